// Turning text into the key presses a VNC server understands, for "Type clipboard".

/** One key press: the X11 keysym, and whether Shift is held for it (US keyboard layout). */
export interface KeyPress {
  keysym: number;
  shift: boolean;
}

/** Keysyms of the keys with their own name. */
export const KEYSYM = {
  Return: 0xff0d,
  Tab: 0xff09,
  BackSpace: 0xff08,
  Shift_L: 0xffe1,
} as const;

// Characters typed with Shift on a US keyboard: QEMU maps keysyms to keys without knowing
// about Shift, so it has to be pressed explicitly.
const SHIFTED = new Set('~!@#$%^&*()_+{}|:"<>?');

/**
 * The key presses that type `text`: printable ASCII as itself, newlines as Return, tabs as Tab,
 * other characters as Unicode keysyms (0x01000000 + code point). Carriage returns are dropped
 * so Windows line ends type one Return.
 */
export function keyPresses(text: string): KeyPress[] {
  const presses: KeyPress[] = [];
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '\r') continue;
    if (char === '\n') presses.push({ keysym: KEYSYM.Return, shift: false });
    else if (char === '\t') presses.push({ keysym: KEYSYM.Tab, shift: false });
    else if (code >= 0x20 && code <= 0x7e) {
      presses.push({ keysym: code, shift: (char >= 'A' && char <= 'Z') || SHIFTED.has(char) });
    } else if (code >= 0xa0 && code <= 0xff) presses.push({ keysym: code, shift: false });
    else if (code > 0xff) presses.push({ keysym: 0x01000000 + code, shift: false });
  }
  return presses;
}

/** Serial consoles end lines with a carriage return, as a terminal's Enter key does. */
export function forSerial(text: string): string {
  return text.replace(/\r?\n/g, '\r');
}
