module github.com/plerl/plerl

go 1.26.8

require (
	github.com/okeuday/erlang_go/v2 v2.0.7
	github.com/yuin/gopher-lua v1.1.2
)
