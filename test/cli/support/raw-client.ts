import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/** Opens a raw connection to the gateway at `url`, writes `head`, and collects what comes back. */
export async function rawClient(url: string, head: string) {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  let received = '';
  socket.setEncoding('latin1').on('data', (chunk: string) => {
    received += chunk;
  });
  const closed = once(socket, 'close').then(() => received);
  socket.write(head);
  return { socket, closed, received: () => received };
}
