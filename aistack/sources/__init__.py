"""Video sources: files, RTSP/HTTP streams and webcams."""
