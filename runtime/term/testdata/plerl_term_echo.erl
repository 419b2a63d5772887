%% Echo server for vm_test.go: reads 4-byte-length frames on stdin, answers on stdout.
%%   <<"E", Ext/binary>>  -> <<"ok", term_to_binary(binary_to_term(Ext))>> or <<"er", Reason>>
%%   <<"Z", Ext/binary>>  -> the same, re-encoded with [compressed]
%%   <<"S">>              -> term_to_binary(Specials), remembered
%%   <<"C", Ext/binary>>  -> term_to_binary(binary_to_term(Ext) =:= Specials)
-module(plerl_term_echo).
-export([main/0]).

main() ->
    Port = open_port({fd, 0, 1}, [{packet, 4}, binary, eof]),
    loop(Port, undefined).

loop(Port, Saved) ->
    receive
        {Port, {data, <<"E", Ext/binary>>}} ->
            reply(Port, echo(Ext, [])),
            loop(Port, Saved);
        {Port, {data, <<"Z", Ext/binary>>}} ->
            reply(Port, echo(Ext, [compressed])),
            loop(Port, Saved);
        {Port, {data, <<"S">>}} ->
            Specials = specials(Port),
            reply(Port, term_to_binary(Specials)),
            loop(Port, Specials);
        {Port, {data, <<"C", Ext/binary>>}} ->
            reply(Port, term_to_binary(binary_to_term(Ext) =:= Saved)),
            loop(Port, Saved);
        {Port, eof} ->
            halt(0)
    end.

echo(Ext, Opts) ->
    try binary_to_term(Ext) of
        T -> <<"ok", (term_to_binary(T, Opts))/binary>>
    catch
        C:R -> <<"er", (iolist_to_binary(io_lib:format("~p:~p", [C, R])))/binary>>
    end.

reply(Port, Bin) -> port_command(Port, Bin).

specials(Port) ->
    Y = erlang:unique_integer(),
    {self(), make_ref(), Port, fun erlang:node/0,
     fun(X) -> X + Y end,                % NEW_FUN_EXT with a free variable
     erlang:monitor(process, self()),
     alias(),
     spawn(fun() -> ok end),
     'héllo', <<1:3>>, -0.0, 1 bsl 300, -(1 bsl 64), "charlist",
     #{<<"k">> => [1 | improper], {t} => #{}}}.
