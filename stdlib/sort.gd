// stdlib sort
