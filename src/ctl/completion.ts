/**
 * `cutover ctl completion bash|zsh` (issue 14): a completion script for the shell, to be
 * sourced (`source <(cutover ctl completion bash)`) or saved where the shell loads them.
 * Commands, sub-commands and flags are completed; node names come from the running
 * cutover (`cutover ctl nodes --names`), so they complete as /v1/state names them.
 */

import { NODE_VERBS } from './nodes.js'

export const SHELLS = ['bash', 'zsh'] as const
export type Shell = (typeof SHELLS)[number]

/** Every command and what follows it, the one list both scripts are written from. */
export const COMMANDS: Record<string, readonly string[]> = {
  status: [],
  nodes: NODE_VERBS,
  split: [],
  rollback: [],
  unlock: [],
  events: [],
  rollout: ['start', 'pause', 'resume', 'promote', 'abort'],
  completion: SHELLS,
}

export const FLAGS = ['--url', '--token', '--json', '--reason', '--since', '--follow', '--force', '--watch', '--interval', '--help']

function bash(): string {
  const subs = Object.entries(COMMANDS)
    .filter(([, s]) => s.length)
    .map(([c, s]) => `    ${c}) subs="${s.join(' ')}" ;;`)
    .join('\n')
  return `# bash completion for cutover ctl: source <(cutover ctl completion bash)
_cutover_ctl() {
  local cur prev words cword
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # position of "ctl": after it come the command, its verb, the pool and the node
  local i base=-1
  for ((i = 1; i < COMP_CWORD; i++)); do [[ "\${COMP_WORDS[i]}" == ctl ]] && { base=$i; break; }; done
  if [[ $base -lt 0 ]]; then COMPREPLY=($(compgen -W "ctl check demo --config" -- "$cur")); return; fi
  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "${FLAGS.join(' ')}" -- "$cur")); return; fi
  local cmd="\${COMP_WORDS[base+1]}" verb="\${COMP_WORDS[base+2]}" n=$((COMP_CWORD - base))
  if [[ $n -eq 1 ]]; then COMPREPLY=($(compgen -W "${Object.keys(COMMANDS).join(' ')}" -- "$cur")); return; fi
  local subs=""
  case "$cmd" in
${subs}
  esac
  if [[ $n -eq 2 ]]; then COMPREPLY=($(compgen -W "$subs" -- "$cur")); return; fi
  if [[ "$cmd" == nodes && $n -eq 3 ]]; then COMPREPLY=($(compgen -W "x y" -- "$cur")); return; fi
  if [[ "$cmd" == nodes && $n -eq 4 ]]; then
    COMPREPLY=($(compgen -W "$(cutover ctl nodes --names "\${COMP_WORDS[base+3]}" 2>/dev/null)" -- "$cur")); return
  fi
  if [[ "$cmd" == nodes && "$verb" == weight && $n -eq 5 ]]; then COMPREPLY=($(compgen -W "reset" -- "$cur")); return; fi
}
complete -F _cutover_ctl cutover
`
}

function zsh(): string {
  const commands = Object.keys(COMMANDS).join(' ')
  const subs = Object.entries(COMMANDS)
    .filter(([, s]) => s.length)
    .map(([c, s]) => `      ${c}) compadd -- ${s.join(' ')} ;;`)
    .join('\n')
  return `#compdef cutover
# zsh completion for cutover ctl: source <(cutover ctl completion zsh), or save as _cutover in $fpath
_cutover() {
  local base=\${words[(i)ctl]}
  if (( base > CURRENT )); then compadd -- ctl check demo --config; return; fi
  if [[ $PREFIX == -* ]]; then compadd -- ${FLAGS.join(' ')}; return; fi
  local n=$(( CURRENT - base )) cmd=\${words[base+1]} verb=\${words[base+2]}
  if (( n == 1 )); then compadd -- ${commands}; return; fi
  if (( n == 2 )); then
    case $cmd in
${subs}
    esac
    return
  fi
  if [[ $cmd == nodes ]] && (( n == 3 )); then compadd -- x y; return; fi
  if [[ $cmd == nodes ]] && (( n == 4 )); then compadd -- \${(f)"$(cutover ctl nodes --names \${words[base+3]} 2>/dev/null)"}; return; fi
  if [[ $cmd == nodes && $verb == weight ]] && (( n == 5 )); then compadd -- reset; return; fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _cutover "$@"; else compdef _cutover cutover; fi
`
}

/** The completion script for shell. */
export function completionScript(shell: Shell): string {
  return shell === 'bash' ? bash() : zsh()
}
