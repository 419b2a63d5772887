# scripts/testnode.exs: the Elixir node that demos and tests talk to (started by scripts/setup-elixir).
#
# Everything answers deterministically so that regression output is stable.
# Seen from Erlang (and from plerl), the modules are 'Elixir.OrderDesk',
# 'Elixir.Pricing' and 'Elixir.Plerl.Test'; maps use binary keys.
#
#   OrderDesk   GenServer registered as 'Elixir.OrderDesk'
#     new_order(map)  -> %{"status" => "accepted", "order_id" => 1, 2, ..., "eta_minutes" => 10 + 2 * qty}
#                        (qty from "qty" or "quantity", a positive integer), or
#                        %{"status" => "rejected", "reason" => ...}
#     orders()        -> the maps received by new_order, oldest first
#     committed()     -> the maps received as {:order_committed, map}, sent or cast, oldest first
#     reset()         -> :ok; forgets both lists, order ids start again at 1
#   Pricing
#     quote(sku, qty) -> %{"sku" => sku, "qty" => qty, "unit_cents" => u, "total_cents" => u * qty}
#                        u = 100 + rem(37 * (sum of the sku's bytes), 900); quote("a", 2) has u = 989
#     slow(ms)        -> :ok after sleeping ms
#   plerl_echo  registered process: {pid, msg} -> sends msg to pid; {pid, ref, msg} -> sends {ref, msg}
#   Plerl.Test
#     echo(x) -> x;  raise_error() raises RuntimeError "plerl test error";
#     do_exit() exits with :plerl_test_exit;  do_throw() throws :plerl_test_throw;
#     sleep(ms) -> :ok;  big() -> 2^100
#     sleep_tagged(ms, tag) registers the calling process under the atom `tag`, then sleeps;
#                           tags must start with "plerl_t_" (at most 64 bytes), so callers
#                           cannot grow the atom table with arbitrary names
#     whereis_tag(tag)   -> true while a process is registered under tag
#     alive_count(prefix) -> how many live processes are registered under a tag starting with prefix
#                           (to check that a cancelled call's remote worker was killed)
#
# When PLERL_TESTNODE_READY names a file, the node writes its OS PID there once
# all of the above is running; setup-elixir waits for that file.

defmodule OrderDesk do
  use GenServer

  def start_link(_arg), do: GenServer.start_link(__MODULE__, :ok, name: __MODULE__)

  def new_order(order) when is_map(order), do: GenServer.call(__MODULE__, {:new_order, order})
  def orders, do: GenServer.call(__MODULE__, :orders)
  def committed, do: GenServer.call(__MODULE__, :committed)
  def reset, do: GenServer.call(__MODULE__, :reset)

  defp fresh, do: %{next_id: 1, orders: [], committed: []}

  @impl true
  def init(:ok), do: {:ok, fresh()}

  @impl true
  def handle_call({:new_order, order}, _from, state) do
    state = %{state | orders: [order | state.orders]}

    case quantity(order) do
      {:ok, qty} ->
        reply = %{"status" => "accepted", "order_id" => state.next_id, "eta_minutes" => 10 + 2 * qty}
        {:reply, reply, %{state | next_id: state.next_id + 1}}

      :error ->
        {:reply, %{"status" => "rejected", "reason" => "qty must be a positive integer"}, state}
    end
  end

  def handle_call(:orders, _from, state), do: {:reply, Enum.reverse(state.orders), state}
  def handle_call(:committed, _from, state), do: {:reply, Enum.reverse(state.committed), state}
  def handle_call(:reset, _from, _state), do: {:reply, :ok, fresh()}

  @impl true
  def handle_cast({:order_committed, order}, state), do: {:noreply, commit(order, state)}

  @impl true
  def handle_info({:order_committed, order}, state), do: {:noreply, commit(order, state)}
  # Anything else sent here is dropped, not a crash.
  def handle_info(_other, state), do: {:noreply, state}

  defp commit(order, state), do: %{state | committed: [order | state.committed]}

  defp quantity(order) do
    qty = Enum.find_value(["qty", "quantity", :qty, :quantity], &Map.get(order, &1))

    cond do
      is_integer(qty) and qty > 0 -> {:ok, qty}
      is_float(qty) and qty > 0 and qty == trunc(qty) -> {:ok, trunc(qty)}
      true -> :error
    end
  end
end

defmodule Pricing do
  # (A local call to quote/2 would be Elixir's quote special form, hence __MODULE__.)
  def quote(sku, qty) when is_float(qty) and qty == trunc(qty), do: __MODULE__.quote(sku, trunc(qty))

  def quote(sku, qty) when is_integer(qty) and qty > 0 do
    sku = to_string(sku)
    unit = 100 + rem(37 * Enum.sum(:binary.bin_to_list(sku)), 900)
    %{"sku" => sku, "qty" => qty, "unit_cents" => unit, "total_cents" => unit * qty}
  end

  def slow(ms) do
    Process.sleep(ms)
    :ok
  end
end

defmodule Plerl.Echo do
  def start_link do
    pid = spawn_link(&loop/0)
    Process.register(pid, :plerl_echo)
    {:ok, pid}
  end

  defp loop do
    receive do
      {pid, ref, msg} when is_pid(pid) -> send(pid, {ref, msg})
      {pid, msg} when is_pid(pid) -> send(pid, msg)
      _other -> :ok
    end

    loop()
  end
end

defmodule Plerl.Test do
  def echo(x), do: x
  def raise_error, do: raise("plerl test error")
  def do_exit, do: exit(:plerl_test_exit)
  def do_throw, do: throw(:plerl_test_throw)

  def sleep(ms) do
    Process.sleep(ms)
    :ok
  end

  def big, do: Integer.pow(2, 100)

  # The node's atom count (test/security counts what a request creates).
  def atom_count, do: :erlang.system_info(:atom_count)

  # Sends n binaries of size bytes to pid (test/security: mailbox bounds).
  def flood(pid, n, size) when is_pid(pid) and n <= 1000 and size <= 64_000_000 do
    b = :binary.copy("x", size)
    Enum.each(1..n, fn _ -> send(pid, b) end)
    n
  end

  def sleep_tagged(ms, tag) do
    Process.register(self(), String.to_atom(tag!(tag)))
    sleep(ms)
  end

  def whereis_tag(tag) do
    tag = tag!(tag)

    try do
      Process.whereis(String.to_existing_atom(tag)) != nil
    rescue
      # never registered, so the atom does not even exist
      ArgumentError -> false
    end
  end

  def alive_count(prefix) do
    prefix = to_string(prefix)

    Enum.count(Process.registered(), fn name ->
      String.starts_with?(Atom.to_string(name), prefix) and live_pid?(Process.whereis(name))
    end)
  end

  # whereis gives nil for a name gone meanwhile, and a port for a registered port.
  defp live_pid?(pid), do: is_pid(pid) and Process.alive?(pid)

  defp tag!(tag) do
    tag = to_string(tag)

    if String.starts_with?(tag, "plerl_t_") and byte_size(tag) <= 64 do
      tag
    else
      raise ArgumentError, "tags start with \"plerl_t_\" and have at most 64 bytes"
    end
  end
end

children = [
  OrderDesk,
  %{id: Plerl.Echo, start: {Plerl.Echo, :start_link, []}}
]

{:ok, sup} = Supervisor.start_link(children, strategy: :one_for_one, name: Plerl.TestNode.Supervisor)
# The supervisor must outlive the process that ran this script.
Process.unlink(sup)

case System.get_env("PLERL_TESTNODE_READY") do
  nil -> :ok
  path -> File.write!(path, System.pid())
end

IO.puts("testnode: #{node()} ready (OS pid #{System.pid()})")
