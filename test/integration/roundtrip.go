package main

import (
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

//go:embed roundtrip.lua
var roundtripLua string

func (s *Suite) testRoundTripSQL() (string, error) {
	g := newGen(s.seed)
	path := filepath.Join(s.dir, "values.csv")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	w := csv.NewWriter(f)
	for i := 0; i < s.values; i++ {
		v := g.Value(4)
		if !json.Valid([]byte(v)) {
			f.Close()
			return "", fmt.Errorf("generator made invalid JSON: %s", v)
		}
		w.Write([]string{strconv.Itoa(i + 1), v})
	}
	w.Flush()
	if err := f.Close(); err != nil {
		return "", err
	}
	a, err := s.session("roundtrip-sql")
	if err != nil {
		return "", err
	}
	defer a.Close()
	if err := a.Must(
		`CREATE TEMP TABLE rt (id int PRIMARY KEY, v jsonb NOT NULL)`,
		`\copy rt FROM '`+path+`' WITH (FORMAT csv)`,
		// One value's error must not hide the others: check each in its own block.
		`CREATE FUNCTION pg_temp.echo_check(v jsonb) RETURNS text LANGUAGE plpgsql AS $$
		DECLARE r jsonb;
		BEGIN
		  r := erlang_call('tn', 'Elixir.Plerl.Test', 'echo', jsonb_build_array(v));
		  IF r = v AND r::text = v::text THEN RETURN 'ok'; END IF;
		  RETURN 'came back as ' || left(r::text, 400);
		EXCEPTION WHEN OTHERS THEN
		  RETURN 'error ' || SQLSTATE || ': ' || SQLERRM;
		END $$`,
		`CREATE TEMP TABLE rtres AS SELECT id, pg_temp.echo_check(v) AS res FROM rt`,
	); err != nil {
		return "", err
	}
	stats, err := a.Value(`SELECT count(*) FILTER (WHERE res = 'ok') || '|' || count(*) || '|' ||
		(SELECT count(*) FROM rt WHERE v::text LIKE '%"$map"%') || '|' ||
		(SELECT count(*) FROM rt WHERE v::text LIKE '%"$improper"%') || '|' ||
		(SELECT count(*) FROM rt WHERE v::text LIKE '%"$binary_base64"%') || '|' ||
		(SELECT count(*) FROM rt WHERE v::text ~ '\d{20}') || '|' ||
		(SELECT sum(octet_length(v::text)) FROM rt) FROM rtres`)
	if err != nil {
		return "", err
	}
	p := strings.Split(stats, "|")
	note := fmt.Sprintf("%s of %s values equal (jsonb = and text); %s with $map, %s with $improper, %s with $binary_base64, %s with 20+ digit integers, %s bytes of JSON in all (seed %d)",
		p[0], p[1], p[2], p[3], p[4], p[5], p[6], s.seed)
	if p[0] != p[1] {
		bad, _ := a.Query(`SELECT id || ': ' || left(v::text, 300) || ' -> ' || res FROM rtres JOIN rt USING (id) WHERE res <> 'ok' ORDER BY id LIMIT 5`)
		return note + "\n" + strings.Join(bad, "\n"), fmt.Errorf("%d values did not come back identical", atoi(p[1])-atoi(p[0]))
	}
	return note, nil
}

func (s *Suite) testRoundTripLua() (string, error) {
	if err := s.admin.Must(`CREATE OR REPLACE FUNCTION int_lua_roundtrip(n int, seed bigint) RETURNS text LANGUAGE plerl AS $$` +
		roundtripLua + `$$`); err != nil {
		return "", err
	}
	a, err := s.session("roundtrip-lua")
	if err != nil {
		return "", err
	}
	defer a.Close()
	v, err := a.Value(fmt.Sprintf(`SELECT int_lua_roundtrip(%d, %d)`, s.values, s.seed%2147483646+1))
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(v, "ok ") {
		return v, fmt.Errorf("a value did not come back deep-equal")
	}
	return strings.TrimPrefix(v, "ok "), nil
}
