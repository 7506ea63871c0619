// The NestJS WebSockets guide's React hook, as the guide writes it: one socket per namespace
// URL and token, connected for as long as the component is mounted. One addition: the socket's
// type, `Socket<ServerToClientEvents, ClientToServerEvents>` of the namespace's generated types
// (src/generated, from `iogate codegen ts`), so that tsc checks every event.
import { useEffect, useRef, useState } from 'react';
import { io, Socket } from 'socket.io-client';

export function useSocket<S extends Socket = Socket>(url: string, token: string) {
  const socketRef = useRef<S | null>(null);
  const [isConnected, setIsConnected] = useState(false);

  useEffect(() => {
    const socket = io(url, {
      auth: { token },
      transports: ['websocket'],
    }) as S;

    socket.on('connect', () => setIsConnected(true));
    socket.on('disconnect', () => setIsConnected(false));

    socketRef.current = socket;

    return () => {
      socket.disconnect();
    };
  }, [url, token]);

  return { socket: socketRef.current, isConnected };
}
