// Evaluates identity policies against requests with @cloud-copilot/iam-simulate (a real IAM policy
// evaluator: wildcards, conditions, explicit denies, resource-type validation), offline.
// stdin: {"policies": [policy, ...], "requests": [{"action", "resource", "account", "context", "resourcePolicy"}]}
// (a resource policy is needed where the service requires one, e.g. the KMS key policy)
// stdout: [{"action", "resource", "result", "errors"}, ...]
const { runSimulation } = require('@cloud-copilot/iam-simulate');

(async () => {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const input = JSON.parse(Buffer.concat(chunks).toString());
  const identityPolicies = input.policies.map((policy, i) => ({ name: `policy${i}`, policy }));
  const out = [];
  for (const req of input.requests) {
    const response = await runSimulation({
      identityPolicies, serviceControlPolicies: [], resourceControlPolicies: [], resourcePolicy: req.resourcePolicy,
      request: {
        action: req.action, principal: `arn:aws:iam::${req.account}:role/servekit-execution-role`,
        resource: { accountId: req.account, resource: req.resource }, contextVariables: req.context || {},
      },
    }, {});
    out.push({ action: req.action, resource: req.resource,
               result: response.resultType === 'error' ? 'Error' : response.overallResult,
               errors: response.resultType === 'error' ? response.errors : undefined });
  }
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
