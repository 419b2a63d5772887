-- plerl--1.0.sql: the language handlers and languages.
\echo Use "CREATE EXTENSION plerl" to load this file. \quit

CREATE FUNCTION plerl_call_handler() RETURNS language_handler
  AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE FUNCTION plerl_inline_handler(internal) RETURNS void
  AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE FUNCTION plerl_validator(oid) RETURNS void
  AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

CREATE TRUSTED LANGUAGE plerl
  HANDLER plerl_call_handler INLINE plerl_inline_handler VALIDATOR plerl_validator;
COMMENT ON LANGUAGE plerl IS 'Lua (trusted) with Erlang and Elixir built-ins';

CREATE FUNCTION plerlu_call_handler() RETURNS language_handler
  AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE FUNCTION plerlu_inline_handler(internal) RETURNS void
  AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE FUNCTION plerlu_validator(oid) RETURNS void
  AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

CREATE LANGUAGE plerlu
  HANDLER plerlu_call_handler INLINE plerlu_inline_handler VALIDATOR plerlu_validator;
COMMENT ON LANGUAGE plerlu IS 'Lua (untrusted) with Erlang and Elixir built-ins';

-- Whether the Go runtime has been loaded in this backend (for tests).
CREATE FUNCTION plerl_go_loaded() RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION plerl_go_loaded() FROM PUBLIC;
