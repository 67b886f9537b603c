/**
 * A SQL statement written with named parameters (`:name`) and turned, once at module load, into
 * PostgreSQL's positional form. Fragments from several table modules can be spliced into one
 * statement without any of them knowing which `$n` the others use: the numbering happens here,
 * from the names, after the text is complete. `::type` casts are left alone.
 */
export interface Statement<N extends string> {
  /** The text with `$1…$n`, ready for `Sql.query`. */
  readonly text: string;
  /** The values in placeholder order. */
  values(named: Readonly<Record<N, unknown>>): unknown[];
}

const PLACEHOLDER = /(?<![:\w]):([a-z_][a-z0-9_]*)/g;

/**
 * Builds a statement from its complete text and the names it uses. Throws at load time when the
 * text and the list disagree (a name used but not declared, or declared but not used), so a
 * fragment that changes its parameters cannot silently shift another module's values.
 */
export function statement<N extends string>(names: readonly N[], text: string): Statement<N> {
  const order: N[] = [];
  const declared = new Set<string>(names);
  const numbered = text.replace(PLACEHOLDER, (_match, name: string) => {
    if (!declared.has(name)) throw new Error(`SQL parameter :${name} is not declared`);
    let index = order.indexOf(name as N);
    if (index < 0) index = order.push(name as N) - 1;
    return `$${index + 1}`;
  });
  for (const name of names) {
    if (!order.includes(name)) throw new Error(`SQL parameter :${name} is declared but not used`);
  }
  return {
    text: numbered,
    values: (named) => order.map((name) => named[name]),
  };
}
