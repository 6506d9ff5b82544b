/** The one way argv is written as a POSIX shell line: what people read and may paste back. */

/** Words no shell changes. Not a leading `=` (zsh expands `=cmd`); braces without `,` or `..` stay as typed. */
const BARE = /^[A-Za-z0-9_@%+:,./{}-][A-Za-z0-9_@%+=:,./{}-]*$/;

/** One word, quoted only when the shell would otherwise change it. */
export function shellQuoteWord(word: string): string {
  if (BARE.test(word) && !(/[{}]/.test(word) && /,|\.\./.test(word))) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** argv as a shell line that runs the same argv when pasted into sh, bash, zsh. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map(shellQuoteWord).join(' ');
}
