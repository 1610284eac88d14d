// HTML for the on-call page: one escaping function used for every interpolated value, and the layout.
// No client framework: pages are rendered on the server, styled by /ui/static/ui.css; the Content
// Security Policy (routes.ts) allows no inline script or style at all.

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and quoted attributes. */
export const esc = (v: unknown): string => String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c] as string);

/** A piece of HTML that is already safe (built from esc'd parts). */
export class Html {
  constructor(readonly s: string) {}
  toString(): string {
    return this.s;
  }
}

/** A template tag (named h, not html, so formatters leave the markup alone) that escapes every interpolation that is not itself Html (arrays are joined). */
export function h(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    const part = (x: unknown): string =>
      x instanceof Html
        ? x.s
        : Array.isArray(x)
          ? x.map(part).join('')
          : x === null || x === undefined || x === false
            ? ''
            : esc(x);
    out += part(v) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

export interface Viewer {
  name: string;
  role: string;
  csrf: string;
}

export function layout(title: string, body: Html, viewer: Viewer | null, flash: string | null = null): string {
  return `<!doctype html>${
    h`<html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · Navigator</title>
        <link rel="stylesheet" href="/ui/static/ui.css" />
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
          <a class="brand" href="/ui/">Navigator</a>
          ${
            viewer
              ? h`<nav aria-label="Main"><a href="/ui/">Deploys</a> <a href="/ui/audit">Audit log</a></nav>
                  <form class="who" method="post" action="/ui/logout">
                    <span>${viewer.name} (${viewer.role})</span>
                    <input type="hidden" name="csrf" value="${viewer.csrf}" /><button type="submit">Sign out</button>
                  </form>`
              : ''
          }
        </header>
        <main id="main">${flash ? h`<p class="flash" role="status">${flash}</p>` : ''} ${body}</main>
      </body>
    </html>`.s
  }\n`;
}

export function age(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 90) return `${s}s`;
  if (s < 90 * 60) return `${Math.round(s / 60)}m`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

export const time = (iso: string | null) =>
  iso ? h`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>` : h`-`;
