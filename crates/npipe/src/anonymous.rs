//! Anonymous pipes (`CreatePipe`).
