// Help topics that are not commands: `scalpel help triggers` (the trigger language). The parameter selection language
// is the `params` command's help (`scalpel help params`).

/** The trigger language, as every --trigger, --poison, --pattern trigger:, --oracle-trigger and --eval-trigger reads it. */
export const TRIGGERS_HELP = `The trigger language

A trigger is a change stamped on images in pixel space ([0, 1], before the model's
normalisation): a patch pasted over the image (BadNets), a pattern blended into
the whole image, or a mask and pattern read from a file. Every flag that takes a
trigger reads this language: eval --trigger, train --poison, inject --pattern
trigger:SPEC, locate --oracle-trigger, repair --oracle-trigger and --eval-trigger.

patch:SIZE@POSITION:PATTERN
  SIZE      H (a square) or HxW in pixels; default 3x3.
  POSITION  a corner: top-left, top-right, bottom-left, bottom-right (default) or
            center; a corner with a margin, bottom-right+2 (2 pixels from the
            edges); or X,Y, the column and row of the patch's top-left pixel
            (0,0 is the image's top-left).
  PATTERN   white (default), black, checkerboard (1 where row + column is even,
            counted from the patch's top-left, else 0), noise or noise:SEED
            (uniform values from a seeded generator, seed 0 by default), or the
            values themselves, row-major and comma-separated: 0,1,1,0 for a 2x2
            patch (shared by every channel), or C×H×W values.
  The patch must fit in the image.

blend:ALPHA:PATTERN
  The whole image mixed with a pattern: x' = (1 - ALPHA)·x + ALPHA·p.
  ALPHA     opacity in [0, 1]; default 0.2.
  PATTERN   as for patches, image-sized: checkerboard (default), white, black,
            noise[:SEED], or H×W (or C×H×W) values.

file:PATH
  A mask-and-pattern trigger as \`scalpel reconstruct -o DIR\` writes one
  (DIR/label-T.safetensors): float32 mask [H, W] and pattern [C, H, W], both in
  [0, 1]; x' = (1 - m)⊙x + m⊙p. Its size must match the images. locate --errors
  trigger:PATH takes the same files without the file: prefix.

A spec that does not parse is a usage error (exit status 2); a missing or corrupt
trigger file, or a patch that does not fit the model's images, is bad input (exit
status 1).

Examples:
  patch:4x4@bottom-right:white      a white 4x4 square in the bottom-right corner
  patch:3@top-left+1:checkerboard   a 3x3 checkerboard one pixel from the top-left
  patch:2x2@20,5:0,1,1,0            a 2x2 pattern with its top-left at column 20, row 5
  patch:5x5@center:noise:7          seeded noise in the centre
  blend:0.1:noise:7                 10% of a seeded noise image blended in
  blend:0.5:checkerboard            half a checkerboard
  file:nc/label-0.safetensors       a reconstructed trigger
`;

/** Help topics by name: `scalpel help NAME` prints the text. */
export const HELP_TOPICS: Readonly<Record<string, string>> = { triggers: TRIGGERS_HELP };
