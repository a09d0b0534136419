// The one place where an argv becomes a command line for a remote POSIX shell. ssh runs a string
// through the login shell, so every argv that crosses it goes through shellQuote. Pure.

/** Characters that never need quoting in a POSIX shell word. */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one word so a POSIX shell reads it back byte for byte. */
export function quoteWord(word: string): string {
  if (word.includes('\0')) throw new TypeError('a command argument cannot contain a NUL byte');
  if (word !== '' && SAFE.test(word)) return word;
  // Inside single quotes nothing is special but the quote itself: close, emit \', reopen.
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** argv -> one shell command line; empty argv is refused. */
export function shellQuote(argv: readonly string[]): string {
  if (argv.length === 0) throw new TypeError('empty command');
  // A first word with '=' would be read as a variable assignment, not as the command: quote it.
  return argv.map((w, i) => (i === 0 && w.includes('=') ? `'${w.replace(/'/g, `'\\''`)}'` : quoteWord(w))).join(' ');
}
