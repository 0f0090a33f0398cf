/**
 * The cluster profile's ports and defaults: every port distinct, stacks whose offsets differ by
 * 10 or more (CI uses 0, 3000, 4000; developers 0, 1000, 2000) never share a port, and the
 * profile's start stages start the three Kafka nodes together. No stack needed.
 */
import assert from "node:assert/strict";
import {
  CLUSTER_CONNECT_PORTS,
  CLUSTER_NODES,
  LOCAL_PORTS,
  localStack,
  stackProfile,
} from "../../src/platform/local_stack.ts";
import { profileOrder, STAGES, STOP_ORDER } from "../../stack/components.ts";

const ports = Object.values(LOCAL_PORTS);

Deno.test("stack profile: every port of both profiles is distinct", () => {
  assert.equal(new Set(ports).size, ports.length);
  const cluster = CLUSTER_NODES.flatMap((n) => [n.port, n.controllerPort]);
  assert.equal(new Set([...cluster, ...CLUSTER_CONNECT_PORTS]).size, 8);
});

Deno.test("stack profile: stacks at offsets 10 or more apart never share a port", () => {
  for (const delta of [10, 100, 1000, 2000, 3000, 4000]) {
    const shifted = new Set(ports.map((p) => p + delta));
    const shared = ports.filter((p) => shifted.has(p));
    assert.deepEqual(shared, [], `offset difference ${delta}`);
  }
});

Deno.test("stack profile: defaults and start stages follow the profile", () => {
  assert.equal(stackProfile({}), "single");
  assert.equal(stackProfile({ STACK_PROFILE: "cluster" }), "cluster");
  assert.throws(() => stackProfile({ STACK_PROFILE: "three" }), /single, cluster/);
  assert.equal(localStack("single").kafkaBrokers, `127.0.0.1:${LOCAL_PORTS.kafka}`);
  assert.equal(localStack("cluster").kafkaBrokers.split(",").length, 3);
  assert.equal(localStack("cluster").topicReplicationFactor, 3);
  // A KRaft node waits for a quorum: the three must start in one stage.
  assert.ok(
    STAGES.cluster.some((stage) => stage.length === 3 && stage.every((n) => /^kafka-/.test(n))),
  );
  assert.deepEqual(profileOrder("single"), ["postgres", "kafka", "connect"]);
  // `down` knows every component of both profiles.
  assert.deepEqual(
    new Set(STOP_ORDER.flat()),
    new Set([...profileOrder("single"), ...profileOrder("cluster")]),
  );
});
