"""AI provenance in images: generation records (text carriers and pixel copies), watermarks, C2PA.

The pieces, each its own module:

* :mod:`.record` - the normalised :class:`~.record.GenerationRecord` every parser returns, with model and LoRA
  references that always carry their hash kind, and :class:`~.record.Carrier`, one piece of text or bytes found
  in a file with where it was found.
* :mod:`.limits` - the bounds every parser keeps (text sizes, JSON depth, decompressed lengths, graph walks).
* :mod:`.carriers` - where records hide in a file: PNG tEXt/zTXt/iTXt and private chunks, EXIF (UserComment
  with its prefixes, IFD0 strings), XMP, GIF comments, WebP/AVIF boxes; read from the file's bytes, bounded.
* :mod:`.parsers` - a registry: one module per tool (A1111/Forge, ComfyUI, InvokeAI, NovelAI, Fooocus,
  SwarmUI, XMP/IPTC); each turns carriers into records and records warnings, never raising on bad input.

The scan signals that use them live beside the other signals (``cairn.signals.ai_*``, ``cairn.signals.c2pa_*``)
and store ``Finding``s (kind ``generation_record``, ``watermark``, ``c2pa``, ``digital_source_type``).
"""
