// Reading Debian's fortune files: plain text, one fortune per record, records separated by a line holding only '%'.
import { existsSync, readFileSync } from 'node:fs';

/** Where Debian's `fortunes` packages install their files (English at the top, languages in subfolders). */
export const FORTUNES_DIR = '/usr/share/games/fortunes';

/** One fortune: its body and, when the last lines are an attribution (`-- Author`), that attribution. */
export interface Fortune {
  /** The text of the fortune, lines joined by '\n', without the attribution. */
  body: string;
  /** The attribution without its leading dashes ('' when there is none). */
  source: string;
}

/** Remove terminal overstriking (`_\bX`, `X\bX`): keep the character typed last at each position. */
function unOverstrike(s: string): string {
  return s.includes('\b') ? s.replace(/[^\n]\x08/g, '') : s;
}

/**
 * Split the text of a fortune file into fortunes: records separated by a line of '%', trimmed, empty ones dropped,
 * overstriking removed, and a trailing attribution (indented lines starting with `--`) split off.
 *
 * @example parseFortunes('A bird.\n%\nWit.\n\t\t-- Anon\n%\n'); // [{ body: 'A bird.', source: '' }, { body: 'Wit.', source: 'Anon' }]
 */
export function parseFortunes(text: string): Fortune[] {
  const out: Fortune[] = [];
  for (const record of unOverstrike(text.replace(/\r\n?/g, '\n')).split(/^%[ \t]*$/m)) {
    const lines = record.split('\n');
    while (lines.length > 0 && lines[0].trim() === '') lines.shift();
    while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
    if (lines.length === 0) continue;
    const at = lines.findIndex((l, i) => i > 0 && /^\s+--\s*\S/.test(l));
    const bodyLines = at < 0 ? lines : lines.slice(0, at);
    const source = at < 0 ? '' : lines.slice(at).map((l) => l.trim()).join(' ').replace(/^--\s*/, '');
    const body = bodyLines.map((l) => l.trimEnd()).join('\n').trim();
    if (body !== '') out.push({ body, source });
  }
  return out;
}

/**
 * Read one fortune file of `FORTUNES_DIR` (or any path), preferring its UTF-8 twin (`NAME.u8`) where the package
 * ships one; bytes that are not valid UTF-8 are read as Latin-1.
 *
 * @param name a path relative to `dir` (e.g. 'computers', 'de/zitate') or an absolute path
 * @example const computers = readFortuneFile('computers'); computers.length // 1050 in fortunes 1:1.99.1
 */
export function readFortuneFile(name: string, dir = FORTUNES_DIR): Fortune[] {
  const path = name.startsWith('/') ? name : `${dir}/${name}`;
  const file = existsSync(`${path}.u8`) ? `${path}.u8` : path;
  if (!existsSync(file)) throw new Error(`fortune file not found: ${file} (install it with: apt-get install fortunes fortunes-de fortunes-es fortunes-it fortunes-br)`);
  const bytes = readFileSync(file);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = new TextDecoder('latin1').decode(bytes);
  }
  return parseFortunes(text);
}
