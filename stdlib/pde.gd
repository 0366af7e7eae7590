// stdlib pde
