# Benchmark receiver: outbox batches {:plerl_outbox, [{id, msg}]} and plain
# casts, each logged as "name key receive_time_us" (key: the outbox id, or
# the message's "n" for a cast). Usage: elixir --name N --cookie C receiver.exs LOG
defmodule BenchReceiver do
  use GenServer
  def start_link({name, log}), do: GenServer.start_link(__MODULE__, {name, log}, name: name)
  @impl true
  def init({name, log}), do: {:ok, {name, File.open!(log, [:append, :utf8, :delayed_write])}}
  @impl true
  def handle_call({:plerl_outbox, msgs}, _from, {name, f} = st) do
    t = System.os_time(:microsecond)
    IO.write(f, for({id, _} <- msgs, do: "#{name} #{id} #{t}\n"))
    {:reply, :ok, st}
  end
  @impl true
  def handle_cast(msg, {name, f} = st) do
    IO.write(f, "#{name} #{Map.get(msg, "n")} #{System.os_time(:microsecond)}\n")
    {:noreply, st}
  end
  @impl true
  def handle_call(:flush, _from, {_, f} = st), do: ({:reply, :file.datasync(f), st})
end
[log] = System.argv()
names = [:lat, :cast | for(i <- 0..7, do: :"tput#{i}")]
{:ok, _} = Supervisor.start_link(for(n <- names, do: Supervisor.child_spec({BenchReceiver, {n, log}}, id: n)), strategy: :one_for_one)
IO.puts("receiver ready")
Process.sleep(:infinity)
