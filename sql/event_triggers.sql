-- event_triggers: RETURNS event_trigger functions see trigger.event and
-- trigger.tag; an error stops the command.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
RESET client_min_messages;
\set VERBOSITY default

CREATE FUNCTION evt_show() RETURNS event_trigger LANGUAGE plerl AS $$
  print(trigger.event, trigger.tag)
  assert(trigger.op == nil and trigger.new == nil)
$$;
CREATE EVENT TRIGGER evt_start ON ddl_command_start EXECUTE FUNCTION evt_show();
CREATE EVENT TRIGGER evt_end ON ddl_command_end EXECUTE FUNCTION evt_show();
CREATE EVENT TRIGGER evt_drop ON sql_drop EXECUTE FUNCTION evt_show();
CREATE EVENT TRIGGER evt_rewrite ON table_rewrite EXECUTE FUNCTION evt_show();

CREATE TABLE evt_t (a int);
ALTER TABLE evt_t ALTER COLUMN a TYPE bigint;
CREATE INDEX evt_i ON evt_t (a);
DROP TABLE evt_t;

-- An event trigger may query the catalogs through SPI.
CREATE FUNCTION evt_end_cmds() RETURNS event_trigger LANGUAGE plerl AS $$
  for r in spi.rows('SELECT command_tag, object_type, object_identity FROM pg_event_trigger_ddl_commands()') do
    print('ddl', r.command_tag, r.object_type, r.object_identity)
  end
$$;
CREATE EVENT TRIGGER evt_cmds ON ddl_command_end EXECUTE FUNCTION evt_end_cmds();
CREATE TABLE evt_t2 (a int);
DROP EVENT TRIGGER evt_cmds;

-- An error in an event trigger stops the command.
CREATE FUNCTION evt_guard() RETURNS event_trigger LANGUAGE plerl AS $$
  if trigger.tag == 'DROP TABLE' then
    error{sqlstate = '42501', message = 'tables may not be dropped here', hint = 'ask the DBA'}
  end
$$;
CREATE EVENT TRIGGER evt_guard ON ddl_command_start EXECUTE FUNCTION evt_guard();
DROP TABLE evt_t2;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM pg_class WHERE relname = 'evt_t2';

DROP EVENT TRIGGER evt_guard;
DROP EVENT TRIGGER evt_start;
DROP EVENT TRIGGER evt_end;
DROP EVENT TRIGGER evt_drop;
DROP EVENT TRIGGER evt_rewrite;
DROP TABLE evt_t2;
