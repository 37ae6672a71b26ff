"""A live MJPEG camera on 127.0.0.1 for tests: a tiny ``http.server`` that sends ``multipart/x-mixed-replace`` JPEGs
of a synthetic scene (people-like blocks walking back and forth forever, so everybody is in view before and after
an outage), which OpenCV/FFmpeg opens as a stream. ``stop()`` takes it off the network (connections dropped, port
refused) and ``start()`` brings it back on the same port, as a camera that reboots. Also a colour-blob detector
that finds the walkers in the decoded pixels, knowing nothing of who they are."""
from __future__ import annotations

import http.server
import socket
import threading
import time

import cv2
import numpy as np

WALKERS = (  # x0, y, vx (px/s), w, h, BGR colour: they bounce between the image borders at different speeds
    (20, 40, 90.0, 24, 60, (40, 40, 200)),
    (250, 110, -70.0, 22, 56, (200, 60, 40)),
    (120, 170, 50.0, 26, 60, (40, 180, 60)),
)
SIZE = (320, 240)


def walker_boxes(t_s: float) -> np.ndarray:
    """(3, 4) xyxy boxes at ``t_s`` seconds."""
    out = []
    for x0, y, vx, w, h, _ in WALKERS:
        span = SIZE[0] - w
        x = (x0 + vx * t_s) % (2 * span)
        x = x if x <= span else 2 * span - x
        out.append([x, y, x + w, y + h])
    return np.asarray(out)


def render(t_s: float) -> np.ndarray:
    rng = np.random.default_rng(7)
    img = rng.integers(90, 140, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
    for (x1, y1, x2, y2), walker in zip(walker_boxes(t_s), WALKERS):
        cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), walker[5], -1)
    return img


def blob_detector(frame: np.ndarray, index: int) -> np.ndarray:
    """Boxes (N, 6) of the saturated blobs of ``frame`` (the walkers on a grey background), score 0.9, class 0."""
    f = frame.astype(np.int16)
    mask = ((f.max(axis=2) - f.min(axis=2)) > 80).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    rows = [[x, y, x + w, y + h, 0.9, 0.0] for x, y, w, h, area in stats[1:n].tolist() if area >= 300]
    return np.asarray(rows, np.float32).reshape(-1, 6)


class MjpegCamera:
    """An MJPEG-over-HTTP camera at ``url`` sending ``fps`` frames a second of :func:`render` at the wall-clock
    time since it was made (the scene goes on while the camera is off the network, as the world does)."""

    def __init__(self, fps: float = 20.0):
        self.fps = float(fps)
        self.t0 = time.monotonic()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/cam.mjpg"
        self.connections = 0
        self._server = None
        self._stopping = threading.Event()

    def start(self) -> "MjpegCamera":
        camera = self
        self._stopping.clear()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                camera.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                try:
                    while not camera._stopping.is_set():
                        ok, jpg = cv2.imencode(".jpg", render(time.monotonic() - camera.t0),
                                               [cv2.IMWRITE_JPEG_QUALITY, 90])
                        data = jpg.tobytes()
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(data)).encode() + b"\r\n\r\n" + data + b"\r\n")
                        self.wfile.flush()
                        time.sleep(1.0 / camera.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Off the network: open connections end, new ones are refused."""
        if self._server is not None:
            self._stopping.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None
