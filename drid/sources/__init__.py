"""Sources: where frames come from — image files and folders, video (files, GIFs, cameras), and
gymnasium environments (the closed loop; ``cartpole`` holds the pixel-observation CartPole the
shipped policy was trained on); ``media`` holds the helpers they share."""
