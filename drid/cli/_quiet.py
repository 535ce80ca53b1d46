"""Keeping the libraries' own chatter off the ``drid`` command's standard error.

drid promises one-line errors. TensorFlow (through absl's C++ logging) prints six or seven lines
when it loads, and an ``E0000 … cuInit`` error on a machine without a GPU; FFmpeg and OpenCV
print several lines for a broken video; SDL (under gymnasium's renderer) prints ``error:
XDG_RUNTIME_DIR is invalid`` on a machine without a desktop session; Ray prints pages. None of
that is drid's message, and little of it can be turned off by a setting (absl's C++ log has no
switch before it is initialised), so by default the command:

* sets the libraries' own switches, unless the user set them (:data:`LIBRARY_ENV`);
* sends what native code writes to file descriptor 2 to ``/dev/null``, while Python's
  ``sys.stderr`` (drid's messages, progress bars) keeps writing to the real standard error;
* turns the libraries' Python loggers down to errors and ignores Python warnings not raised by drid;
* points Python's fault handler at the real standard error, so a crash in native code is not silent.

``drid --verbose …`` (anywhere on the command line) leaves all of it alone and sets
``DRID_VERBOSE=1`` for code that configures a library later (the Ray backend's ``ray.init``).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

__all__ = ["LIBRARY_ENV", "quiet_libraries"]

#: Environment switches of the libraries drid loads, set only where the user has not set them.
LIBRARY_ENV: dict[str, str] = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ log: errors only (the absl part ignores it, see above)
    "GRPC_VERBOSITY": "ERROR",
    "GLOG_minloglevel": "3",
    "OPENCV_LOG_LEVEL": "SILENT",  # OpenCV's [ WARN:0@…] lines
    "OPENCV_FFMPEG_LOGLEVEL": "-8",  # FFmpeg's AV_LOG_QUIET
    "OPENCV_VIDEOIO_DEBUG": "0",
    "PYGAME_HIDE_SUPPORT_PROMPT": "1",  # pygame's greeting goes to standard output
}

#: Loggers of libraries that log on their own, turned down to errors-never.
LIBRARY_LOGGERS = ("tensorflow", "absl", "keras", "h5py", "ray", "matplotlib", "PIL", "numba", "urllib3", "filelock")


def quiet_libraries(*, native: bool) -> None:
    """Silence the libraries (see the module docstring). ``native`` also moves file descriptor 2
    to ``/dev/null`` (for the ``drid`` process itself: the caller of ``main()`` in Python keeps
    its own descriptors) and turns the Python loggers and warnings down."""
    for key, value in LIBRARY_ENV.items():
        os.environ.setdefault(key, value)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        # No desktop: SDL (gymnasium's renderer) draws off-screen instead of complaining about one.
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # drid never plays sound
    if "cv2" in sys.modules:  # already imported: its switch is read once
        try:
            sys.modules["cv2"].setLogLevel(0)
        except Exception:  # an OpenCV build without the call: nothing to turn down
            pass
    if not native:
        return
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    logging.getLogger().setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    warnings.filterwarnings("default", module=r"drid(\.|$)")
    _native_stderr_to_devnull()


def _native_stderr_to_devnull() -> None:
    """Point descriptor 2 at ``/dev/null`` and ``sys.stderr`` at a copy of the old descriptor 2."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError, AttributeError):  # no descriptor 2 (a GUI host): nothing to silence
        return
    stream = open(saved, "w", buffering=1, encoding=getattr(sys.stderr, "encoding", None) or "utf-8",
                  errors="backslashreplace", closefd=True)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = stream
    import faulthandler

    faulthandler.enable(file=stream)  # a crash in native code still says where, on the real standard error
