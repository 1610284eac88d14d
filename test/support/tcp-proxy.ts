// A TCP proxy in front of a server (PostgreSQL) that a test can partition: `cut` drops every open
// connection and refuses new ones (a reset network); `stall` keeps the connections but forwards nothing
// either way, holding the bytes (a black hole: queries hang, as behind a dead switch), until `heal`
// delivers what was held (as TCP does once the path is back) and forwards again.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  cut(): void;
  stall(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function tcpProxy(targetPort: number, host = '127.0.0.1'): Promise<TcpProxy> {
  let mode: 'open' | 'cut' | 'stalled' = 'open';
  const sockets = new Set<Socket>();
  const held: { to: Socket; data: Buffer }[] = [];
  const forward = (from: Socket, to: Socket) =>
    from.on('data', (data: Buffer) => {
      if (mode === 'stalled') held.push({ to, data });
      else to.write(data);
    });
  const server: Server = createServer((client) => {
    if (mode === 'cut') return client.destroy();
    const upstream = connect(targetPort, host);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((res) => server.listen(0, host, res));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    cut() {
      mode = 'cut';
      held.length = 0;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    stall() {
      mode = 'stalled';
    },
    heal() {
      mode = 'open';
      for (const h of held.splice(0)) if (!h.to.destroyed) h.to.write(h.data);
    },
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}
