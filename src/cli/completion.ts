// navigator completion bash|zsh|fish: a completion script generated from the command tree itself, so it
// never drifts from the commands. Install: `source <(navigator completion bash)` (see the README).
import type { Command } from 'commander';
import { UsageError } from './errors.js';

interface Node {
  path: string[];
  subcommands: string[];
  options: string[];
}

export function commandTree(root: Command): Node[] {
  const out: Node[] = [];
  const walk = (c: Command, path: string[]) => {
    const subs = c.commands.map((s) => s.name());
    out.push({
      path,
      subcommands: subs,
      options: [...c.options.map((o) => o.long ?? o.short ?? ''), '--help'].filter(Boolean),
    });
    for (const s of c.commands) walk(s, [...path, s.name()]);
  };
  walk(root, []);
  return out;
}

export function bashScript(root: Command): string {
  const cases = commandTree(root)
    .map((n) => `    "${n.path.join(' ')}") words="${[...n.subcommands, ...n.options].join(' ')}" ;;`)
    .join('\n');
  return `# navigator completion for bash (and zsh through bashcompinit)
_navigator() {
  local cur path="" w i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case "\${path:+$path }$w" in
${commandTree(root)
  .filter((n) => n.path.length > 0)
  .map((n) => `      "${n.path.join(' ')}") path="${n.path.join(' ')}" ;;`)
  .join('\n')}
    esac
  done
  local words=""
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _navigator navigator
`;
}

export function fishScript(root: Command): string {
  const lines = ['# navigator completion for fish', 'complete -c navigator -f'];
  for (const n of commandTree(root)) {
    const cond =
      n.path.length === 0 ? '__fish_use_subcommand' : `__fish_seen_subcommand_from ${n.path[n.path.length - 1]}`;
    for (const s of n.subcommands) lines.push(`complete -c navigator -n '${cond}' -a ${s}`);
    for (const o of n.options)
      if (o.startsWith('--')) lines.push(`complete -c navigator -n '${cond}' -l ${o.slice(2)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerCompletion(program: Command): void {
  program
    .command('completion <shell>')
    .description('print a shell completion script: bash, zsh or fish (e.g. source <(navigator completion bash))')
    .action((shell: string) => {
      if (shell === 'bash') process.stdout.write(bashScript(program));
      else if (shell === 'zsh')
        process.stdout.write(`autoload -U +X bashcompinit && bashcompinit\n${bashScript(program)}`);
      else if (shell === 'fish') process.stdout.write(fishScript(program));
      else throw new UsageError(`completion: "${shell}" is not bash, zsh or fish`);
    });
}
