"""Rendered synthetic people scenes with exact ground truth, and Market-1501-layout identity sets.

Real tracking data is scarce, so tests, demos and benchmarks use scenes rendered here, deterministic from a seed:

- :func:`generate_scene` (``scene``) simulates people walking on a ground plane seen by a pinhole camera
  (perspective sizes, 1.0-1.8 m/s, heading wobble, stops, entering/leaving through the borders, crossings,
  occlusion, optional camera pan; with ``reentry=True`` everyone leaves and comes back, see ``reentry``). It returns a
  :class:`Scene` with MOT17 ground truth (with visibility), noisy detections and synthetic appearance embeddings.
  Frames are rendered lazily: OpenCV-drawn figures (``render``) or real person crops (``sprites``).
- :func:`write_mot_sequence` (``mot``) writes the MOT17 layout; :func:`write_market_dataset` (``market``) a
  Market-1501-layout identity set; :func:`build_sprite_set` (``sprites``) cuts real ground-truth crops of MOT
  sequences into that layout; :func:`write_multicam` (``multicam``) writes one MOT sequence per camera of a site
  whose people walk from camera to camera.
"""
from __future__ import annotations

from trackreid.synthetic.cli import main
from trackreid.synthetic.market import write_market_dataset
from trackreid.synthetic.mot import write_mot_sequence
from trackreid.synthetic.multicam import MulticamConfig, MulticamSite, generate_multicam, write_multicam
from trackreid.synthetic.render import Person, render_person_crop
from trackreid.synthetic.scene import DetectionNoise, Scene, SceneConfig, generate_scene
from trackreid.synthetic.sprites import SpriteSet, build_sprite_set, load_sprites

__all__ = ["SceneConfig", "DetectionNoise", "Scene", "Person", "generate_scene", "write_mot_sequence",
           "write_market_dataset", "render_person_crop", "SpriteSet", "load_sprites", "build_sprite_set", "MulticamConfig", "MulticamSite",
           "generate_multicam", "write_multicam", "main"]
