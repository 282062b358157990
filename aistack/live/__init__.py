"""Video for people: the RTSP emulator, the annotated MJPEG view, RTSP push and drawing."""
