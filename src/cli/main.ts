#!/usr/bin/env node
// The netlab command: `netlab <command> [options]`.
import { helpText, parseCommand, UsageError, type CommandSpec } from './args.js';
import { ATTACK, EVAL, runAttack, runEval } from './attack.js';
import { DEMO, runDemo } from './demo.js';
import { MODELS, runModels } from './models.js';
import { PREDICT, runPredict } from './predict.js';
import { runTrain, TRAIN } from './train.js';

interface Command {
  spec: CommandSpec;
  run: (values: Record<string, string | boolean | undefined>) => unknown;
}

const COMMANDS: Record<string, Command> = {
  demo: { spec: DEMO, run: runDemo },
  train: { spec: TRAIN, run: runTrain },
  attack: { spec: ATTACK, run: runAttack },
  eval: { spec: EVAL, run: runEval },
  predict: { spec: PREDICT, run: runPredict },
  models: { spec: MODELS, run: runModels },
};

function usage(): string {
  const rows = Object.values(COMMANDS).map((c) => `  ${c.spec.name.padEnd(10)} ${c.spec.summary}`);
  return ['usage: netlab <command> [options]', '', 'commands:', ...rows, '', "Run 'netlab <command> --help' for a command's options."].join('\n');
}

function main(argv: string[]): number {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  try {
    if (command === undefined) throw new UsageError(`unknown command '${name}'`);
    const values = parseCommand(command.spec, rest);
    if (values === 'help') {
      process.stdout.write(helpText(command.spec) + '\n');
      return 0;
    }
    const result = command.run(values);
    if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`netlab: ${error.message}\n${command ? `Run 'netlab ${name} --help' for its options.` : usage()}\n`);
      return 2;
    }
    process.stderr.write(`netlab: ${(error as Error).message}\n`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
