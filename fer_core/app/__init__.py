"""The dashboard's glue: settings, Streamlit caching and session state, the model gate, uploads
(``dashboard``), form widgets made from config fields (``forms``), video and photo-collection work
with progress bars (``media``), the live camera over WebRTC (``live``) and plotly figures (``charts``). The pages in ``pages/`` only lay out
widgets and call these and the library below.

May import anything in fer_core except ``fer_core.cli``; nothing in fer_core imports it.
"""

import sys

# The live camera's SRTP library (pylibsrtp, under aiortc) crashes the process with a segmentation
# fault when it loads after TensorFlow (their OpenSSL symbols clash); loaded before, both work.
# (Checked: `python -c "import tensorflow; import pylibsrtp"` crashes, the other order does not;
# pylibsrtp 0.12 and 1.0 alike.) Every page imports this package before anything loads TensorFlow,
# whichever page a server runs first. Where TensorFlow is already loaded (the command line uses
# ``charts`` after its model), it is not imported here: importing it then is what crashes.
if "tensorflow" not in sys.modules:
    try:
        import pylibsrtp  # noqa: F401
    except ImportError:  # without the live camera's packages, the rest of the dashboard works
        pass
