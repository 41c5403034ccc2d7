"""The citizen's touchscreen: a Kivy app over the UI-free core in `appliance/`.

The core never imports Kivy; screens call the core's use-cases and hear from it only through the
`notify` callback, which `app.KioskApp` moves onto Kivy's thread.
"""
