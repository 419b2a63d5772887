# An outbox receiver for the fault tests (docs/outbox.md, "The receiver
# protocol"): registered GenServers dest0..dest7 and bad. Each batch
# {:plerl_outbox, [{id, message}, ...]} is appended to the log as
# "name id node" lines, then acknowledged with :ok. A message %{"raise" => true}
# makes the receiver raise (nothing logged, no ack). Usage:
#   elixir --name outboxnode@127.0.0.1 --cookie C receiver.exs LOGFILE
defmodule OutboxReceiver do
  use GenServer

  def start_link({name, log}), do: GenServer.start_link(__MODULE__, {name, log}, name: name)

  @impl true
  def init({name, log}), do: {:ok, {name, File.open!(log, [:append, :utf8])}}

  @impl true
  def handle_call({:plerl_outbox, msgs}, _from, {name, f} = st) do
    for {id, msg} <- msgs, is_map(msg) and Map.get(msg, "raise") == true do
      raise "receiver refuses message #{id}"
    end

    IO.write(f, for({id, _} <- msgs, do: "#{name} #{id} #{node()}\n"))
    {:reply, :ok, st}
  end
end

[log] = System.argv()
names = [:bad | for(i <- 0..7, do: :"dest#{i}")]
children = for n <- names, do: Supervisor.child_spec({OutboxReceiver, {n, log}}, id: n)
{:ok, _} = Supervisor.start_link(children, strategy: :one_for_one, max_restarts: 1000, max_seconds: 1)
IO.puts("receiver ready")
Process.sleep(:infinity)
