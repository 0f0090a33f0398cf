/** The console pages' common frame: head with local assets only, header, token form. */
import type { Child } from "hono/jsx";

export function Layout(
  props: {
    title: string;
    scripts: string[];
    styles?: string[];
    bodyData?: Record<string, string>;
    children?: Child;
  },
) {
  const data = Object.fromEntries(
    Object.entries(props.bodyData ?? {}).map(([k, v]) => [`data-${k}`, v]),
  );
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title}</title>
        <link rel="icon" href="data:," />
        {(props.styles ?? []).map((href) => <link key={href} rel="stylesheet" href={href} />)}
        <link rel="stylesheet" href="/ops/assets/console.css" />
      </head>
      <body {...data}>
        <header>
          <h1>{props.title}</h1>
          <a href="/ops">console</a>
          <a href="/docs">API docs</a>
          <span id="updated"></span>
        </header>
        <form id="login" hidden>
          <label>
            Admin token <input id="token" type="password" autocomplete="off" />
          </label>{" "}
          <button type="submit">Use</button> <span id="login-message"></span>
        </form>
        {props.children}
        <script src="/ops/assets/common.js"></script>
        {props.scripts.map((src) => <script key={src} src={src}></script>)}
      </body>
    </html>
  );
}
