// Where iogate is: VITE_IOGATE_URL at build time, or the origin that served the app.
export const SERVER_URL: string = import.meta.env.VITE_IOGATE_URL ?? '';

/** A token for `user` from iogate's demo route (DEMO=true; development only). A real app gets
 *  its token from its own login. */
export async function demoToken(user: string): Promise<string> {
  const res = await fetch(`${SERVER_URL}/demo/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(body.message ?? `HTTP ${res.status}`);
  return body.token as string;
}
