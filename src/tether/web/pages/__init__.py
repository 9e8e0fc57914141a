"""The web app's screens, one module each; `tether.web.routes` gathers their routers."""
