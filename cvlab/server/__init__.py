"""Serving the lab to a class on a shared server: who is who, and what the browser will allow.

- ``access``: server-signed browser ids, the instructor secret and the throttle on guessing it
- ``secure_context``: whether the browser will open the camera, told from the address it used
- ``haproxy``: the reverse proxy's configuration (sticky by cookie, websockets) and its TLS files
- ``replicas``: ``python -m cvlab serve``: N Streamlit processes behind HAProxy, started and stopped together
- ``memory``: big freed blocks go back to the system, so a page server's size follows its work
"""
