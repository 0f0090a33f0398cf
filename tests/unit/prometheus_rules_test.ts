/**
 * The shipped Prometheus files (ops/prometheus/): `promtool` checks the scrape configuration and
 * the rules and runs the rules' unit tests (alerts_test.yml). promtool comes from Debian's
 * `prometheus` package (.ci/run installs it); without it these tests fail, never skip: a rule
 * file nobody checked is the one that never fires.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { WORKER_PORTS } from "../../src/workers.ts";

const DIR = new URL("../../ops/prometheus/", import.meta.url).pathname;

/** Runs promtool in ops/prometheus/; a missing promtool is an error that says how to get it. */
async function promtool(...args: string[]): Promise<{ code: number; out: string }> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("promtool", { args, cwd: DIR }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(
        "promtool is not installed: `apt-get install -y prometheus` (Debian's package; .ci/run " +
          "installs it) is needed to check ops/prometheus/",
      );
    }
    throw err;
  }
  const text = new TextDecoder();
  return { code: output.code, out: text.decode(output.stdout) + text.decode(output.stderr) };
}

Deno.test("promtool check config: the shipped scrape configuration and its rule file", async () => {
  const r = await promtool("check", "config", "prometheus.yml");
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS: prometheus\.yml is valid/);
});

Deno.test("promtool check rules: alerts.yml", async () => {
  const r = await promtool("check", "rules", "alerts.yml");
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS: \d+ rules found/);
});

Deno.test("promtool test rules: every alert fires when it should and only then", async () => {
  const r = await promtool("test", "rules", "alerts_test.yml");
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS/);
});

interface Rules {
  groups: { rules: { alert?: string }[] }[];
}

Deno.test("every alert has a unit test and a section in docs/alerts.md", async () => {
  const rules = parse(await Deno.readTextFile(`${DIR}alerts.yml`)) as Rules;
  const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).filter(Boolean);
  assert.ok(alerts.length >= 10, `${alerts.length} alerts`);
  const tests = parse(await Deno.readTextFile(`${DIR}alerts_test.yml`)) as {
    tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
  };
  const fired = new Set(
    tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0))
      .map((a) => a.alertname),
  );
  const doc = await Deno.readTextFile(new URL("../../docs/alerts.md", import.meta.url));
  for (const alert of alerts) {
    assert.ok(fired.has(alert!), `${alert}: no test in alerts_test.yml sees it fire`);
    assert.ok(doc.includes(`### ${alert}`), `${alert}: no "### ${alert}" in docs/alerts.md`);
  }
});

Deno.test("the shipped scrape configuration targets the default stack's ops ports", async () => {
  const config = parse(await Deno.readTextFile(`${DIR}prometheus.yml`)) as {
    scrape_configs: {
      job_name: string;
      static_configs: { targets: string[]; labels?: Record<string, string> }[];
    }[];
  };
  const job = (name: string) => config.scrape_configs.find((j) => j.job_name === name);
  // API_OPS_PORT's default at STACK_PORT_OFFSET 0 (src/platform/config.ts).
  assert.deepEqual(job("shop-api")?.static_configs.flatMap((s) => s.targets), ["127.0.0.1:9100"]);
  assert.deepEqual(
    Object.fromEntries(
      job("shop-worker")!.static_configs.map((s) => [s.labels?.worker, s.targets]),
    ),
    Object.fromEntries(Object.entries(WORKER_PORTS).map(([w, p]) => [w, [`127.0.0.1:${p}`]])),
  );
});
