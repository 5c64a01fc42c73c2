#!/usr/bin/env node
// The netlab command: `netlab <command> [options]`; `reproduce`, `gan` and
// `mae` take a second word (`netlab reproduce gan`, `netlab gan sample`).
import { helpText, parseCommand, UsageError, type CommandSpec } from './args.js';
import { ATTACK, EVAL, runAttack, runEval } from './attack.js';
import { GAN_COMMANDS } from './gan.js';
import { G2P, runG2p } from './g2p.js';
import { MAE_COMMANDS } from './mae.js';
import { MODELS, runModels } from './models.js';
import { PREDICT, runPredict } from './predict.js';
import { REPRODUCTIONS } from './reproduce.js';
import { runTokenize, TOKENIZE } from './tokenize.js';
import { runTrain, TRAIN } from './train.js';
import { launch, launchPlan, workerEnvironment } from './launch.js';
import { destroyProcessGroup, initProcessGroup, isInitialized } from '../distributed/process-group.js';

interface Command {
  spec: CommandSpec;
  run: (values: Record<string, string | boolean | undefined>, positionals: string[]) => unknown | Promise<unknown>;
}

/** A command with a second word, each with its own options. */
interface CommandGroup {
  summary: string;
  what: string;
  commands: Record<string, Command>;
}

const COMMANDS: Record<string, Command | CommandGroup> = {
  reproduce: { summary: "reproduce a paper's checkable results, with results.json and an offline report.html", what: 'paper', commands: REPRODUCTIONS },
  train: { spec: TRAIN, run: runTrain },
  attack: { spec: ATTACK, run: runAttack },
  eval: { spec: EVAL, run: runEval },
  predict: { spec: PREDICT, run: runPredict },
  gan: { summary: "sample a trained GAN generator, or score samples by the Parzen-window protocol", what: 'action', commands: GAN_COMMANDS },
  mae: { summary: 'pre-train a masked autoencoder, fine-tune its encoder, or probe it linearly', what: 'action', commands: MAE_COMMANDS },
  g2p: { spec: G2P, run: runG2p },
  tokenize: { spec: TOKENIZE, run: runTokenize },
  models: { spec: MODELS, run: runModels },
};

function isGroup(c: Command | CommandGroup): c is CommandGroup {
  return 'commands' in c;
}

function groupUsage(name: string, group: CommandGroup): string {
  const rows = Object.entries(group.commands).map(([sub, c]) => `  ${sub.padEnd(10)} ${c.spec.summary}`);
  return [`usage: netlab ${name} <${group.what}> [options]`, '', `${group.what === 'paper' ? 'papers' : 'actions'}:`, ...rows, '', `Run 'netlab ${name} <${group.what}> --help' for its options.`].join('\n');
}

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${isGroup(c) ? c.summary : c.spec.summary}`);
  return ['usage: netlab <command> [options]', '', 'commands:', ...rows, '', "Run 'netlab <command> --help' for a command's options."].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS[name];
  let command: Command | undefined;
  let hint = usage();
  try {
    if (entry === undefined) throw new UsageError(`unknown command '${name}'`);
    let args = rest;
    if (isGroup(entry)) {
      const [sub, ...subArgs] = rest;
      hint = groupUsage(name, entry);
      if (sub === undefined || sub === '--help' || sub === '-h') {
        process.stdout.write(hint + '\n');
        return sub === undefined ? 2 : 0;
      }
      command = entry.commands[sub];
      if (command === undefined) throw new UsageError(`${name}: unknown ${entry.what} '${sub}'; choose one of ${Object.keys(entry.commands).join(', ')}`);
      args = subArgs;
    } else {
      command = entry;
    }
    hint = `Run 'netlab ${command.spec.name} --help' for its options.`;
    const parsed = parseCommand(command.spec, args);
    if (parsed === 'help') {
      process.stdout.write(helpText(command.spec) + '\n');
      return 0;
    }
    const { values, positionals } = parsed;
    let result: unknown;
    if ('nproc' in command.spec.options) {
      const plan = launchPlan(command.spec.name, values);
      if (plan !== null) return await launch(plan, argv.slice(0, argv.length - args.length), command.spec, values);
      // A worker (started by the launcher or torchrun) runs its command inside the group.
      if (workerEnvironment() !== null) await initProcessGroup();
    }
    try {
      result = await command.run(values, positionals);
    } finally {
      if (isInitialized()) destroyProcessGroup();
    }
    // Every rank computes the result; rank 0 prints it.
    if (values.json && (workerEnvironment()?.rank ?? 0) === 0) process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      // Every worker parses the same command line; rank 0 speaks for them.
      if ((workerEnvironment()?.rank ?? 0) !== 0) return 2;
      process.stderr.write(`netlab: ${error.message}\n${hint}\n`);
      return 2;
    }
    const worker = workerEnvironment();
    process.stderr.write(`netlab: ${worker !== null ? `rank ${worker.rank}: ` : ''}${(error as Error).message}\n`);
    return 1;
  }
}

// A worker may hold a process group whose threads would keep Node alive after
// a failure; exit once main is done.
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  if (workerEnvironment() !== null) process.exit(code);
});
