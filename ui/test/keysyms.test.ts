import { describe, expect, it } from 'vitest';
import { forSerial, KEYSYM, keyPresses } from '../src/lib/keysyms';

describe('typing text as key presses', () => {
  it('types letters, digits and symbols, holding Shift where a US keyboard needs it', () => {
    expect(keyPresses('aB1!')).toEqual([
      { keysym: 0x61, shift: false },
      { keysym: 0x42, shift: true },
      { keysym: 0x31, shift: false },
      { keysym: 0x21, shift: true },
    ]);
  });

  it('turns line ends into one Return each and keeps tabs', () => {
    expect(keyPresses('a\r\nb\n\t').map((press) => press.keysym)).toEqual([0x61, KEYSYM.Return, 0x62, KEYSYM.Return, KEYSYM.Tab]);
  });

  it('types characters beyond Latin-1 as Unicode keysyms', () => {
    expect(keyPresses('é€')).toEqual([
      { keysym: 0xe9, shift: false },
      { keysym: 0x010020ac, shift: false },
    ]);
  });

  it('sends serial lines with carriage returns', () => {
    expect(forSerial('root\nuname -r\r\n')).toBe('root\runame -r\r');
  });
});
