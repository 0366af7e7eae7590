// stdlib loss
