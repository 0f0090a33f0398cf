/**
 * A TCP proxy of the test's own in front of a real service (Postgres), to inject the network
 * faults that process kills cannot: `freeze` holds every byte both ways and every new connection
 * (accepted, then nothing answers: a hung database), `thaw` lets them go, `drop` closes every
 * open connection (clients must reconnect, e.g. through a host name that no longer resolves).
 */
export interface TcpProxy {
  port: number;
  freeze(): void;
  thaw(): void;
  drop(): void;
  close(): Promise<void>;
}

export function tcpProxy(target: { hostname: string; port: number }): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  const closeQuietly = (c: Deno.Conn) => {
    try {
      c.close();
    } catch { /* already closed */ }
    conns.delete(c);
  };
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        await gate;
        let written = 0;
        while (written < n) written += await to.write(buf.subarray(written, n));
      }
    } catch { /* either side closed */ }
    closeQuietly(from);
    closeQuietly(to);
  };
  const accepting = (async () => {
    for await (const client of listener) {
      conns.add(client);
      (async () => {
        await gate; // a frozen proxy accepts, then holds the new connection
        try {
          const server = await Deno.connect(target);
          conns.add(server);
          pipe(client, server);
          pipe(server, client);
        } catch {
          closeQuietly(client);
        }
      })();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    freeze() {
      gate = new Promise((resolve) => open = resolve);
    },
    thaw() {
      open();
      gate = Promise.resolve();
    },
    drop() {
      for (const c of [...conns]) closeQuietly(c);
    },
    async close() {
      this.thaw();
      listener.close();
      await accepting.catch(() => {});
      this.drop();
    },
  };
}
