# plerl: PGXS build of the pure-C library (plerl.so) plus the Go library
# (plerl_go.so) that plerl.so loads lazily in each backend.
MODULE_big = plerl
OBJS = src/plerl.o src/stats.o
EXTENSION = plerl plerlu
DATA = plerl--1.0.sql plerlu--1.0.sql
# pg_regress areas in a fixed order: first those that need nothing but the
# cluster, then those that need the Elixir test node (scripts/setup-elixir).
# `make installcheck-local` runs only the first group. A new area goes in
# one of the lists (test/layout checks every sql/*.sql is listed once).
REGRESS_LOCAL = base types arrays composites srf triggers event_triggers spi datetime pgtype pllua cursors \
	subxact procedures errors isolation sandbox
REGRESS_NODE = erlang erlang_lua security batch outbox cluster cluster_names stats
REGRESS = $(REGRESS_LOCAL) $(REGRESS_NODE)
CONTRIB_TESTDB = plerl_regress

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
GO_LIB = plerl_go.so
GO_SRC = $(shell find handler runtime -name '*.go' -not -name '*_test.go' -o -name '*.c' -o -name '*.h' | grep -v '^handler/plerl_go.h$$') go.mod go.sum
PG_INCLUDEDIR_SERVER := $(shell $(PG_CONFIG) --includedir-server)

# asyncpreemptoff=1 at link time: Go's preemption signal is SIGURG, which
# PostgreSQL uses for latch wakeups (docs/internals/boundary.md, defect 1). GODEBUG from the
# environment is invisible inside a backend, so it must be the built-in default.
# The postgres symbols the C guards use are resolved when the backend loads us.
# -checklinkname=0: handler/memory.go links to the Go runtime's 32 MB FIPS
# entropy scratch buffer to give its uncharged pages back (boundary.md, Memory).
GO_LDFLAGS = -X=runtime.godebugDefault=asyncpreemptoff=1 -checklinkname=0
export CGO_CFLAGS = -I$(PG_INCLUDEDIR_SERVER) -O2 -g -Wall -Wno-unused-function
export CGO_LDFLAGS = -Wl,--unresolved-symbols=ignore-all

all: $(GO_LIB)

# PGXS knows no header dependencies: plerl.so reads the settings struct and
# ids of plerl_shared.h, so it must be rebuilt with it (plerl_bind checks).
$(OBJS): handler/plerl_shared.h

$(GO_LIB): $(GO_SRC)
	$(GO) build -buildmode=c-shared -trimpath -ldflags='$(GO_LDFLAGS)' -o $@ ./handler

install: install-go-lib
install-go-lib: $(GO_LIB)
	$(INSTALL_SHLIB) $(GO_LIB) '$(DESTDIR)$(pkglibdir)/$(GO_LIB)'

EXTRA_CLEAN = $(GO_LIB) plerl_go.h

installcheck-local:
	$(MAKE) installcheck REGRESS="$(REGRESS_LOCAL)"

.PHONY: install-go-lib installcheck-local
