// mk completion bash|zsh|fish: a script generated from the command table (src/cli.ts), so it knows
// every command, alias and option of this mk. Cluster names are asked of `mk list -o name` each
// time Tab completes one; addon names come from the catalog. The three scripts share one plan: walk
// the words typed so far through the table (options that take a value skip it, a known subcommand
// descends), then complete the value of that option, an option, a subcommand or an argument.
import { CATALOG } from '../catalog/index.js';
import { EXIT } from '../errors.js';
import type { CommandContext } from './context.js';

/** What a value or argument completes to: files, folders, cluster or addon names, fixed choices, or nothing. */
export type Completes = 'none' | 'file' | 'dir' | 'cluster' | 'addon' | readonly string[];

export interface FlagModel {
  names: string[];
  description: string;
  /** Undefined for an option that takes no value. */
  value?: Completes;
}

export interface CommandModel {
  name: string;
  aliases: string[];
  description: string;
  flags: FlagModel[];
  /** What each positional argument completes to; the last one repeats when variadic. */
  args: Completes[];
  variadic: boolean;
  commands: CommandModel[];
}

export type Shell = 'bash' | 'zsh' | 'fish';

/** A command reachable from the root: every spelling of its path (aliases), its subcommands, and its flags with the root's (global) ones. */
interface Entry {
  spellings: string[];
  model: CommandModel;
  flags: FlagModel[];
}

function entries(root: CommandModel): Entry[] {
  const out: Entry[] = [];
  const walk = (cmd: CommandModel, spellings: string[]) => {
    out.push({ spellings, model: cmd, flags: cmd === root ? cmd.flags : [...cmd.flags, ...root.flags] });
    for (const sub of cmd.commands) {
      const names = [sub.name, ...sub.aliases];
      walk(sub, spellings.flatMap((p) => names.map((n) => (p ? `${p} ${n}` : n))));
    }
  };
  walk(root, ['']);
  return out;
}

/** A value kind as one shell word: file, dir, cluster, addon, none, or choice:a,b,c. */
function kindWord(c: Completes): string {
  return typeof c === 'string' ? c : `choice:${c.join(',')}`;
}

const subNames = (m: CommandModel) => m.commands.flatMap((c) => [c.name, ...c.aliases]);
const flagNames = (flags: FlagModel[]) => flags.flatMap((f) => f.names);
const valueFlagNames = (flags: FlagModel[]) => flagNames(flags.filter((f) => f.value !== undefined));
const described = (m: CommandModel) => m.commands.flatMap((c) => [c.name, ...c.aliases].map((n) => [n, c.description] as const));
const describedFlags = (flags: FlagModel[]) => flags.flatMap((f) => f.names.map((n) => [n, f.description] as const));

/**
 * What each option's value is, keyed "PATH|FLAG" (a shell glob on the command path and the flag):
 * a command's own options first, then the global ones, the same after any path.
 */
function valueRules(root: CommandModel): Array<{ keys: Array<{ anyPath: boolean; key: string }>; kind: string }> {
  const rules = entries(root).flatMap(({ spellings, model }) =>
    model === root ? [] : model.flags.flatMap((f) => (f.value === undefined ? [] : [{ keys: spellings.flatMap((p) => f.names.map((n) => ({ anyPath: false, key: `${p}|${n}` }))), kind: kindWord(f.value) }])),
  );
  const globals = root.flags.flatMap((f) => (f.value === undefined ? [] : [{ keys: f.names.map((n) => ({ anyPath: true, key: `|${n}` })), kind: kindWord(f.value) }]));
  return [...rules, ...globals];
}

/** A POSIX single-quoted word (bash and zsh). */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** A fish single-quoted word. */
const fq = (s: string) => `'${s.replace(/[\\']/g, '\\$&')}'`;

/** bash and zsh share the table: `_mk_command PATH` sets what the command at PATH has; `_mk_value PATH FLAG` prints what FLAG's value is. */
function shTable(root: CommandModel, withDescriptions: boolean): string {
  const commandCases = entries(root).map(({ spellings, model, flags }) => {
    const vars = [
      `_mk_subs=${sq(subNames(model).join(' '))}`,
      `_mk_flags=${sq(flagNames(flags).join(' '))}`,
      `_mk_vflags=${sq(valueFlagNames(flags).join(' '))}`,
      `_mk_args=${sq(model.args.map(kindWord).join(' '))}`,
      `_mk_rest=${sq(model.variadic ? '1' : '')}`,
      ...(withDescriptions
        ? [
            `_mk_subs_desc=${sq(described(model).map(([n, d]) => `${n}:${d}`).join('\n'))}`,
            `_mk_flags_desc=${sq(describedFlags(flags).map(([n, d]) => `${n}:${d}`).join('\n'))}`,
          ]
        : []),
    ];
    return `    ${spellings.map(sq).join('|')})\n      ${vars.join('\n      ')}\n      ;;`;
  });
  const valueCases = valueRules(root).map(({ keys, kind }) => `    ${keys.map((k) => (k.anyPath ? '*' : '') + sq(k.key)).join('|')}) echo ${sq(kind)} ;;`);
  return `_mk_command() {
  case "$1" in
${commandCases.join('\n')}
    *)
      _mk_subs='' _mk_flags='' _mk_vflags='' _mk_args='' _mk_rest=''
      ;;
  esac
}

_mk_value() {
  case "$1|$2" in
${valueCases.join('\n')}
    *) echo none ;;
  esac
}`;
}

/**
 * The walk over the typed words, in bash and zsh syntax alike: sets cmdpath (the command reached), n
 * (arguments given to it), expect/vflag (the last word is an option waiting for its value).
 */
const SH_WALK = `  _mk_command ""
  for word in "\${typed[@]}"; do
    if [[ -n $expect ]]; then
      [[ $word == = ]] || expect=""
      continue
    fi
    case "$word" in
      --*=*) continue ;;
      -*)
        if [[ " $_mk_vflags " == *" $word "* ]]; then expect=1; vflag="$word"; fi
        continue
        ;;
    esac
    if [[ $n -eq 0 && " $_mk_subs " == *" $word "* ]]; then
      cmdpath="\${cmdpath:+$cmdpath }$word"
      _mk_command "$cmdpath"
    else
      n=$((n + 1))
    fi
  done`;

function bash(root: CommandModel, addons: string[]): string {
  return `# bash completion for mk. Load it with: source <(mk completion bash)
${shTable(root, false)}

_mk_reply() {
  local line
  while IFS= read -r line; do COMPREPLY+=("$line"); done
}

_mk() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath="" word vflag="" expect="" kind="" n=0
  local _mk_subs _mk_flags _mk_vflags _mk_args _mk_rest
  local -a typed=("\${COMP_WORDS[@]:1:COMP_CWORD-1}") kinds
  [[ $cur == = ]] && cur=""
${SH_WALK}
  if [[ -n $expect ]]; then
    kind="$(_mk_value "$cmdpath" "$vflag")"
  elif [[ $cur == -* ]]; then
    kind="words:$_mk_flags"
  elif [[ $n -eq 0 && -n $_mk_subs ]]; then
    kind="words:$_mk_subs"
  else
    read -r -a kinds <<< "$_mk_args"
    kind="\${kinds[n]}"
    if [[ -z $kind && -n $_mk_rest && \${#kinds[@]} -gt 0 ]]; then kind="\${kinds[\${#kinds[@]}-1]}"; fi
  fi
  COMPREPLY=()
  case "$kind" in
    file) compopt -o filenames 2>/dev/null; _mk_reply < <(compgen -f -- "$cur") ;;
    dir) compopt -o filenames 2>/dev/null; _mk_reply < <(compgen -d -- "$cur") ;;
    cluster) _mk_reply < <(compgen -W "$(mk list -o name 2>/dev/null)" -- "$cur") ;;
    addon) _mk_reply < <(compgen -W ${sq(addons.join(' '))} -- "$cur") ;;
    choice:*) kind="\${kind#choice:}"; _mk_reply < <(compgen -W "\${kind//,/ }" -- "$cur") ;;
    words:*) _mk_reply < <(compgen -W "\${kind#words:}" -- "$cur") ;;
  esac
}

complete -F _mk mk
`;
}

function zsh(root: CommandModel, addons: string[]): string {
  return `#compdef mk
# zsh completion for mk. Load it with: source <(mk completion zsh) (after compinit), or save it as
# _mk in a folder of $fpath.
${shTable(root, true)}

_mk() {
  local cur="\${words[CURRENT]}" cmdpath="" word vflag="" expect="" kind="" n=0
  local _mk_subs _mk_flags _mk_vflags _mk_args _mk_rest _mk_subs_desc _mk_flags_desc
  local -a typed list kinds
  typed=("\${(@)words[2,CURRENT-1]}")
${SH_WALK}
  if [[ -n $expect ]]; then
    kind="$(_mk_value "$cmdpath" "$vflag")"
  elif [[ $cur == -* ]]; then
    list=("\${(@f)_mk_flags_desc}")
    _describe -t options 'mk option' list
    return
  elif [[ $n -eq 0 && -n $_mk_subs ]]; then
    list=("\${(@f)_mk_subs_desc}")
    _describe -t commands 'mk command' list
    return
  else
    kinds=(\${=_mk_args})
    kind="\${kinds[n+1]}"
    if [[ -z $kind && -n $_mk_rest && \${#kinds} -gt 0 ]]; then kind="\${kinds[-1]}"; fi
  fi
  case "$kind" in
    file) _files ;;
    dir) _files -/ ;;
    cluster) list=(\${(f)"$(mk list -o name 2>/dev/null)"}); compadd -a list ;;
    addon) compadd -- ${addons.map(sq).join(' ')} ;;
    choice:*) list=(\${(s:,:)\${kind#choice:}}); compadd -a list ;;
  esac
}

if [[ "\${funcstack[1]}" == _mk ]]; then
  _mk "$@"
else
  compdef _mk mk
fi
`;
}

function fish(root: CommandModel, addons: string[]): string {
  const list = (items: readonly string[]) => items.map(fq).join(' ');
  const commandCases = entries(root).map(({ spellings, model, flags }) =>
    [
      `        case ${spellings.map(fq).join(' ')}`,
      `            set -g __mk_subs ${list(described(model).map(([n]) => n))}`,
      `            set -g __mk_subs_desc ${list(described(model).map(([, d]) => d))}`,
      `            set -g __mk_flags ${list(describedFlags(flags).map(([n]) => n))}`,
      `            set -g __mk_flags_desc ${list(describedFlags(flags).map(([, d]) => d))}`,
      `            set -g __mk_vflags ${list(valueFlagNames(flags))}`,
      `            set -g __mk_args ${list(model.args.map(kindWord))}`,
      `            set -g __mk_rest ${model.variadic ? '1' : "''"}`,
    ].join('\n'),
  );
  const valueCases = valueRules(root).map(({ keys, kind }) => `        case ${keys.map((k) => fq((k.anyPath ? '*' : '') + k.key)).join(' ')}\n            echo ${fq(kind)}`);
  return `# fish completion for mk. Install it with: mk completion fish > ~/.config/fish/completions/mk.fish
function __mk_command --argument-names cmdpath
    set -g __mk_subs; set -g __mk_subs_desc; set -g __mk_flags; set -g __mk_flags_desc
    set -g __mk_vflags; set -g __mk_args; set -g __mk_rest ''
    switch "$cmdpath"
${commandCases.join('\n')}
    end
end

function __mk_value --argument-names cmdpath flag
    switch "$cmdpath|$flag"
${valueCases.join('\n')}
        case '*'
            echo none
    end
end

function __mk_complete
    set -l typed (commandline -opc)
    set -e typed[1]
    set -l cur (commandline -ct)
    set -l cmdpath ''
    set -l n 0
    set -l expect ''
    set -l vflag ''
    __mk_command ''
    for word in $typed
        if test -n "$expect"
            set expect ''
            continue
        end
        switch $word
            case '--*=*'
                continue
            case '-*'
                if contains -- $word $__mk_vflags
                    set expect 1
                    set vflag $word
                end
                continue
        end
        if test $n -eq 0; and contains -- $word $__mk_subs
            set cmdpath (string trim -- "$cmdpath $word")
            __mk_command $cmdpath
        else
            set n (math $n + 1)
        end
    end
    set -l kind none
    if test -n "$expect"
        set kind (__mk_value $cmdpath $vflag)
    else if string match -q -- '-*' $cur
        for i in (seq (count $__mk_flags))
            printf '%s\\t%s\\n' $__mk_flags[$i] $__mk_flags_desc[$i]
        end
        return
    else if test $n -eq 0; and test (count $__mk_subs) -gt 0
        for i in (seq (count $__mk_subs))
            printf '%s\\t%s\\n' $__mk_subs[$i] $__mk_subs_desc[$i]
        end
        return
    else if test $n -lt (count $__mk_args)
        set kind $__mk_args[(math $n + 1)]
    else if test -n "$__mk_rest"; and test (count $__mk_args) -gt 0
        set kind $__mk_args[-1]
    end
    switch $kind
        case file
            __fish_complete_path $cur
        case dir
            __fish_complete_directories $cur
        case cluster
            mk list -o name 2>/dev/null
        case addon
            printf '%s\\n' ${list(addons)}
        case 'choice:*'
            string split , -- (string replace -- 'choice:' '' $kind)
    end
end

complete -c mk -f -a '(__mk_complete)'
`;
}

/** The completion script for `shell`. Pure. */
export function completionScript(shell: Shell, root: CommandModel, addons: readonly string[]): string {
  const names = [...addons].sort();
  return shell === 'bash' ? bash(root, names) : shell === 'zsh' ? zsh(root, names) : fish(root, names);
}

export async function completion(ctx: CommandContext, shell: Shell, root: CommandModel): Promise<number> {
  ctx.print(completionScript(shell, root, [...CATALOG.keys()]).trimEnd());
  return EXIT.ok;
}
