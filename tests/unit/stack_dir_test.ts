/**
 * Stack folder safety: an empty, relative or root STACK_DIR is refused with exit code 78 before
 * anything is created or deleted, and the stack deletes only inside a folder holding its marker.
 * Temp folders only; no stack needed.
 */
import assert from "node:assert/strict";
import {
  checkStackDir,
  prepareStackDir,
  REPO_DIR,
  safeRemove,
  STACK_MARKER,
  StackDirError,
  StackError,
} from "../../stack/components.ts";

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

/** A temp folder with `files` (path -> text) in it, removed by `Symbol.asyncDispose`. */
async function tempDir(files: Record<string, string> = {}) {
  const dir = await Deno.makeTempDir({ prefix: "stack-dir-test-" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.writeTextFile(`${dir}/${path}`, text);
  }
  return {
    dir,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("stack dir: empty, root and relative values are refused with the rule and value", () => {
  for (const value of ["", "/", "//", "/tmp/..", "relative", "./.stack", "~/stack"]) {
    assert.throws(() => checkStackDir(value), (err: Error) => {
      assert.ok(err instanceof StackDirError);
      assert.equal(
        err.message,
        `Cannot use STACK_DIR as it must be an absolute path other than /: current value is ${
          JSON.stringify(value)
        }`,
      );
      return true;
    });
  }
});

Deno.test("stack dir: unset means <repo>/.stack; absolute paths are normalized", () => {
  assert.equal(checkStackDir(undefined), `${REPO_DIR}/.stack`);
  assert.equal(checkStackDir("/tmp/shop-stack/"), "/tmp/shop-stack");
  assert.equal(checkStackDir("/tmp/a/../shop-stack"), "/tmp/shop-stack");
});

Deno.test("stack dir: the CLI exits 78 on a bad STACK_DIR and creates or deletes nothing", async () => {
  await using cwd = await tempDir({ "relative/lib/keep": "x", "relative/conf/keep": "x" });
  const before = await entries(cwd.dir);
  const rootBefore = await entries("/");
  const runs = [["", "status"], ["/", "status"], ["relative", "status"], ["relative", "reset"]];
  await Promise.all(runs.map(async ([value, cmd]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${REPO_DIR}/stack/cli.ts`, cmd],
      cwd: cwd.dir,
      env: { STACK_DIR: value, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 78, `STACK_DIR=${JSON.stringify(value)} ${cmd}: ${stderr}`);
    assert.match(
      stderr,
      new RegExp(`must be an absolute path other than /: current value is "${value}"`),
    );
  }));
  assert.deepEqual(await entries(cwd.dir), before);
  assert.deepEqual(await entries(`${cwd.dir}/relative`), ["conf", "lib"]);
  assert.deepEqual(await entries("/"), rootBefore);
});

Deno.test("stack dir: a delete in a folder without the marker is refused and keeps it", async () => {
  await using t = await tempDir({ "lib/a.jar": "jar", "conf/x": "mine" });
  await assert.rejects(() => safeRemove(`${t.dir}/lib`, t.dir), (err: Error) => {
    assert.ok(err instanceof StackError);
    assert.match(err.message, new RegExp(`has no ${STACK_MARKER}`));
    return true;
  });
  assert.equal(await Deno.readTextFile(`${t.dir}/lib/a.jar`), "jar");
});

Deno.test("stack dir: with the marker, only paths inside the folder are deleted", async () => {
  await using t = await tempDir({ [STACK_MARKER]: "", "lib/a.jar": "jar", "conf/x": "keep" });
  await using outside = await tempDir({ "data/x": "precious" });
  for (const path of [`${t.dir}/../${outside.dir.split("/").pop()}/data`, outside.dir, t.dir]) {
    await assert.rejects(() => safeRemove(path, t.dir), /is not inside the stack folder/);
  }
  // A link inside the folder must not lead a delete outside it.
  await Deno.symlink(outside.dir, `${t.dir}/link`);
  await assert.rejects(() => safeRemove(`${t.dir}/link/data`, t.dir), /resolves outside/);
  await safeRemove(`${t.dir}/link`, t.dir); // removes the link, not its target
  assert.equal(await Deno.readTextFile(`${outside.dir}/data/x`), "precious");

  await safeRemove(`${t.dir}/lib`, t.dir);
  await safeRemove(`${t.dir}/missing`, t.dir);
  assert.deepEqual(await entries(t.dir), [STACK_MARKER, "conf"].sort());
  await assert.rejects(() => safeRemove(`${t.dir}/lib`, ""), StackDirError);
});

Deno.test("stack dir: a new or empty folder gets the marker; an old stack folder is adopted", async () => {
  await using t = await tempDir({ "old/lib/.fetched": "dae2f9303f81b182\n", "empty/.keep": "" });
  await Deno.remove(`${t.dir}/empty/.keep`);
  for (const dir of [`${t.dir}/new/stack`, `${t.dir}/empty`, `${t.dir}/old`]) {
    await prepareStackDir(dir);
    assert.match(await Deno.readTextFile(`${dir}/${STACK_MARKER}`), /deletes subfolders/);
  }
  await prepareStackDir(`${t.dir}/old`); // idempotent
  // `create: false` (reset) does not make a folder that is not there.
  await prepareStackDir(`${t.dir}/absent`, { create: false });
  assert.equal(await exists(`${t.dir}/absent`), false);
});

Deno.test("stack dir: a folder the stack did not make is refused and left untouched", async () => {
  // Like /var: generic `run` and `lib` subfolders are not the stack's signature.
  await using t = await tempDir({
    "run/kafka.pid": "1",
    "lib/x": "x",
    "conf/server.properties": "log.dirs=/elsewhere/kafka/data\n",
  });
  const before = await entries(t.dir);
  await assert.rejects(() => prepareStackDir(t.dir), /a folder the stack did not make/);
  assert.deepEqual(await entries(t.dir), before);
});
