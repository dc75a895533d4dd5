"""Synthetic photos for benchmarks and tests: flat textured scenes, and a 3D-ish scene
that can be photographed from different positions (hard negatives for matching).

``scene3d(seed)`` builds a world of textured objects at different depths in front of a
distant panorama. ``view(world, ...)`` renders it from a camera position and heading: a
sideways step moves near objects more than far ones (parallax), and a change of heading
is a perspective warp. Two views of one world are different photos of the same scene,
which a near-duplicate matcher must never call the same photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw


def texture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A procedural texture, uint8 RGB: fractal noise, a facade grid or waves."""
    kind = int(rng.integers(0, 3))
    out = np.zeros((height, width, 3), np.float32)
    if kind == 0:  # fractal noise: foliage, rubble, ground
        for octave in range(1, 6):
            cells = 2**octave
            grid = rng.normal(0, 1, (cells + 1, cells + 1, 3)).astype(np.float32)
            up = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
            out += up * (60 / octave)
    elif kind == 1:  # a facade: wall with a grid of windows
        wall = rng.uniform(-40, 40, 3)
        out += wall
        cols, rows = int(rng.integers(2, 8)), int(rng.integers(2, 8))
        for r in range(rows):
            for c in range(cols):
                x0 = int((c + 0.2) * width / cols)
                y0 = int((r + 0.2) * height / rows)
                x1 = int((c + 0.8) * width / cols)
                y1 = int((r + 0.75) * height / rows)
                out[y0:y1, x0:x1] = rng.uniform(-90, 20, 3)
    else:  # waves
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        for c in range(3):
            fx, fy = rng.uniform(0.5, 5, 2)
            phase = rng.uniform(0, 6.28)
            out[..., c] = (
                60
                * np.sin(x / max(width, 1) * fx * 6.28 + phase)
                * np.cos(y / max(height, 1) * fy * 6.28 + phase / 2)
            )
    out += rng.normal(0, 6, (height, width, 3))
    base = rng.uniform(60, 200, 3)
    return (out + base).clip(0, 255).astype(np.uint8)


def flat_scene(seed: int, width: int = 640, height: int = 480) -> Image.Image:
    """A textured 2D picture of random shapes; different seeds are unrelated pictures."""
    rng = np.random.default_rng(seed)
    img = Image.fromarray(texture(rng, width, height))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(15, 45))):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(10, width // 3)), int(rng.integers(10, height // 3))
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = rng.integers(0, 3)
        if shape == 0:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=color)
        elif shape == 1:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=color)
        else:
            pts = [(int(x0 + rng.integers(0, w)), int(y0 + rng.integers(0, h))) for _ in range(4)]
            draw.polygon(pts, fill=color)
    arr = np.asarray(img, np.float32) + rng.normal(0, 5, (height, width, 3))
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


@dataclass
class Thing:
    """One object of a 3D scene: a textured rectangle or ellipse standing at depth z."""

    x: float  # world x of its centre (metres)
    y: float  # world height of its centre (metres; the camera is at 1.6 m)
    z: float  # distance from the camera line (metres)
    w: float
    h: float
    ellipse: bool
    tex: np.ndarray


@dataclass
class World:
    """A scene: a panorama far away and objects at depths."""

    panorama: np.ndarray  # H×W×3, spans 180 degrees of heading
    ground: np.ndarray  # texture of the ground plane, H×W×3
    things: list[Thing]


def scene3d(seed: int) -> World:
    """A street-like world: sky and far hills, buildings, posts and people-sized things."""
    rng = np.random.default_rng(10_000 + seed)
    pano_h, pano_w = 480, 2400
    sky_top = rng.uniform(120, 220, 3)
    sky_bottom = rng.uniform(150, 255, 3)
    t = np.linspace(0, 1, pano_h)[:, None, None]
    pano = (sky_top * (1 - t) + sky_bottom * t) * np.ones((1, pano_w, 1))
    # A ridge of hills across the lower half of the panorama.
    xs = np.arange(pano_w)
    ridge = pano_h * 0.45 + sum(
        rng.uniform(10, 40) * np.sin(xs / pano_w * rng.uniform(2, 12) * 6.28 + rng.uniform(0, 6))
        for _ in range(3)
    )
    hill = texture(rng, pano_w, pano_h).astype(np.float32) * 0.5 + rng.uniform(30, 100, 3)
    rows = np.arange(pano_h)[:, None]
    mask = rows > ridge[None, :]
    pano[mask] = hill[mask]
    pano += rng.normal(0, 3, pano.shape)
    things = []
    for _ in range(int(rng.integers(14, 22))):
        z = float(rng.uniform(8, 60))
        w = float(rng.uniform(0.5, 6.0))
        h = float(rng.uniform(1.0, 8.0))
        x = float(rng.uniform(-0.8, 0.8) * z)
        y = h / 2 + float(rng.uniform(0, 1.5))
        tw, th = int(rng.integers(24, 160)), int(rng.integers(24, 160))
        things.append(Thing(x, y, z, w, h, bool(rng.random() < 0.3), texture(rng, tw, th)))
    things.sort(key=lambda t: -t.z)  # painter's order: far first
    ground = texture(rng, 1024, 1024)
    return World(pano.clip(0, 255).astype(np.uint8), ground, things)


def view(
    world: World,
    *,
    camera_x: float = 0.0,
    heading_deg: float = 0.0,
    pitch_deg: float = 0.0,
    size: tuple[int, int] = (640, 480),
    fov_deg: float = 60.0,
    noise_seed: int = 0,
    light: float = 1.0,
) -> Image.Image:
    """Photograph ``world`` from ``camera_x`` (metres) turned by ``heading_deg``.

    The sideways position gives parallax between depths; heading and pitch are applied
    as the exact perspective warp of a rotating camera. ``noise_seed`` and ``light``
    model a different moment (sensor noise, exposure).
    """
    width, height = size
    # Render a wider, straight-ahead frame, then rotate the camera by a homography.
    margin = 1.4
    rw, rh = int(width * margin), int(height * margin)
    f = (width / 2) / np.tan(np.radians(fov_deg) / 2)
    pano = world.panorama
    # The panorama spans 180 degrees; it is far enough that only heading moves it.
    px_per_rad = pano.shape[1] / np.pi
    half = np.arctan((rw / 2) / f)
    left = int(pano.shape[1] / 2 - half * px_per_rad)
    right = int(pano.shape[1] / 2 + half * px_per_rad)
    span = pano[:, left:right]
    horizon = rh / 2
    img = Image.fromarray(cv2.resize(span, (rw, int(rh * 0.75)), interpolation=cv2.INTER_AREA))
    canvas = Image.new("RGB", (rw, rh), (90, 85, 80))
    canvas.paste(img, (0, int(horizon - rh * 0.75 * 0.55)))
    # The ground is a plane 1.6 m below the camera: stepping sideways shears it (the
    # near ground moves more than the far), as in a real photo from another position.
    ground_tex = world.ground
    gh, gw = ground_tex.shape[:2]
    half_width, near, far = 60.0, 2.0, 150.0
    # Texture pixel (tx, ty) -> ground point X = -hw + tx*2hw/gw, Z = near + ty*(far-near)/gh.
    to_ground = np.array(
        [[2 * half_width / gw, 0, -half_width], [0, (far - near) / gh, near], [0, 0, 1]]
    )
    # Ground point (X, Z) -> image: u = (f X - f cx + u0 Z) / Z, v = (v0 Z + 1.6 f) / Z.
    to_image = np.array([[f, rw / 2, -f * camera_x], [0, horizon, 1.6 * f], [0, 1, 0]])
    ground = cv2.warpPerspective(ground_tex, to_image @ to_ground, (rw, rh), flags=cv2.INTER_LINEAR)
    below = np.zeros((rh, rw), bool)
    below[int(horizon + 1.6 * f / far) + 1 :, :] = True
    arr = np.asarray(canvas).copy()
    arr[below] = ground[below]
    canvas = Image.fromarray(arr)
    for thing in world.things:
        scale = f / thing.z
        u = rw / 2 + (thing.x - camera_x) * scale
        v = horizon + (1.6 - thing.y) * scale
        w, h = max(2, int(thing.w * scale)), max(2, int(thing.h * scale))
        x0, y0 = int(u - w / 2), int(v - h / 2)
        if x0 > rw or y0 > rh or x0 + w < 0 or y0 + h < 0:
            continue
        tex = Image.fromarray(thing.tex).resize((w, h), Image.Resampling.BILINEAR)
        mask = Image.new("L", (w, h), 0)
        d = ImageDraw.Draw(mask)
        if thing.ellipse:
            d.ellipse([0, 0, w - 1, h - 1], fill=255)
        else:
            d.rectangle([0, 0, w - 1, h - 1], fill=255)
        canvas.paste(tex, (x0, y0), mask)
    arr = np.asarray(canvas)
    yaw, pitch = np.radians(heading_deg), np.radians(pitch_deg)
    k_src = np.array([[f, 0, rw / 2], [0, f, rh / 2], [0, 0, 1]])
    k_dst = np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]])
    ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    rx = np.array(
        [[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]]
    )
    homography = k_dst @ (rx @ ry).T @ np.linalg.inv(k_src)
    out = cv2.warpPerspective(
        arr, homography, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    ).astype(np.float32)
    rng = np.random.default_rng(noise_seed)
    out = out * light + rng.normal(0, 4, out.shape)
    return Image.fromarray(out.clip(0, 255).astype(np.uint8))


def viewpoint_pair(
    seed: int, size: tuple[int, int] = (640, 480)
) -> tuple[Image.Image, Image.Image]:
    """Two photos of one scene from different positions: a hard negative pair."""
    rng = np.random.default_rng(20_000 + seed)
    world = scene3d(seed)
    step = float(rng.uniform(1.0, 2.5)) * (1 if rng.random() < 0.5 else -1)
    turn = float(rng.uniform(3, 9)) * (1 if step < 0 else -1)
    a = view(world, size=size, noise_seed=seed * 2)
    b = view(
        world,
        camera_x=step,
        heading_deg=turn,
        pitch_deg=float(rng.uniform(-3, 3)),
        size=size,
        noise_seed=seed * 2 + 1,
        light=float(rng.uniform(0.9, 1.1)),
    )
    return a, b
