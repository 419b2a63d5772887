-- plerlu: nothing to create. The untrusted language plerlu is made by the
-- extension plerl (required); this extension lets scripts written for
-- pllua's two extensions (pllua, plluau) run as plerl, plerlu.
\echo Use "CREATE EXTENSION plerlu" to load this file. \quit
