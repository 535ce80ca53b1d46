"""Sources: where frames come from — image files and folders, video (files, GIFs, cameras), and
gymnasium environments (the closed loop); ``media`` holds the helpers they share."""
