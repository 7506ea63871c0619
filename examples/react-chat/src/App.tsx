import { FormEvent, useEffect, useState } from 'react';
import type { Socket } from 'socket.io-client';
import type * as ChatEvents from './generated/chat';
import type * as EventsEvents from './generated/events';
import { useSocket } from './useSocket';
import { SERVER_URL, demoToken } from './token';

type Session = { user: string; room: string; token: string };
// The namespaces' events, as iogate's gateways declare them (`iogate codegen ts`).
type ChatSocket = Socket<ChatEvents.ServerToClientEvents, ChatEvents.ClientToServerEvents>;
type EventsSocket = Socket<EventsEvents.ServerToClientEvents, EventsEvents.ClientToServerEvents>;

const show = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  return session ? <Chat {...session} /> : <Login onJoin={setSession} />;
}

function Login({ onJoin }: { onJoin: (s: Session) => void }) {
  const [user, setUser] = useState('');
  const [room, setRoom] = useState('lobby');
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    try {
      onJoin({ user: user.trim(), room: room.trim(), token: await demoToken(user.trim()) });
    } catch (err) {
      setError(`No token: ${(err as Error).message}`);
    }
  }

  return (
    <main>
      <h1>iogate React chat</h1>
      <form id="login" onSubmit={submit}>
        <label>
          Name <input id="user" value={user} onChange={(e) => setUser(e.target.value)} required maxLength={64} />
        </label>
        <label>
          Room <input id="room" value={room} onChange={(e) => setRoom(e.target.value)} required maxLength={64} />
        </label>
        <button type="submit">Join</button>
      </form>
      {error && <p id="error" role="alert">{error}</p>}
    </main>
  );
}

function Chat({ user, room, token }: Session) {
  // Two namespaces, one connection: /chat for the room, /events for notifications.
  const chat = useSocket<ChatSocket>(`${SERVER_URL}/chat`, token);
  const events = useSocket<EventsSocket>(`${SERVER_URL}/events`, token);
  const [joined, setJoined] = useState(false);
  const [messages, setMessages] = useState<string[]>([]);
  const [notifications, setNotifications] = useState<string[]>([]);
  const [text, setText] = useState('');

  useEffect(() => {
    const socket = chat.socket;
    if (!socket || !chat.isConnected) return;
    const onJoined = (r: string) => {
      setJoined(true);
      setMessages((m) => [...m, `you joined #${r}`]);
    };
    const onMessage = (m: ChatEvents.SaidBy) => setMessages((all) => [...all, `${m.user ?? m.userId}: ${show(m.message)}`]);
    socket.on('joinedRoom', onJoined);
    socket.on('message', onMessage);
    socket.emit('joinRoom', room);
    return () => {
      socket.off('joinedRoom', onJoined);
      socket.off('message', onMessage);
    };
  }, [chat.socket, chat.isConnected, room]);

  useEffect(() => {
    const socket = events.socket;
    if (!socket) return;
    const onNotification = (n: unknown) => setNotifications((all) => [...all, show(n)]);
    socket.on('notification', onNotification);
    return () => {
      socket.off('notification', onNotification);
    };
  }, [events.socket, events.isConnected]);

  function send(event: FormEvent) {
    event.preventDefault();
    if (!text || !chat.socket) return;
    chat.socket.emit('messageToRoom', { room, message: text });
    setText('');
  }

  return (
    <main>
      <header>
        <h1>iogate React chat</h1>
        <span id="status">{chat.isConnected ? `connected as ${user}` : 'connecting…'}</span>
      </header>
      <div className="chat">
        <section>
          <h2>#{room}</h2>
          <ul id="messages">
            {messages.map((m, i) => (
              <li key={i}>{m}</li>
            ))}
          </ul>
          <form id="send" onSubmit={send}>
            <input id="text" value={text} onChange={(e) => setText(e.target.value)} placeholder="Message" disabled={!joined} />
            <button type="submit" disabled={!joined}>
              Send
            </button>
          </form>
        </section>
        <aside>
          <h2>Notifications</h2>
          <ul id="notifications">
            {notifications.map((n, i) => (
              <li key={i}>{n}</li>
            ))}
          </ul>
        </aside>
      </div>
    </main>
  );
}
