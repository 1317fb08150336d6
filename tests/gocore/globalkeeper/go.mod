module globalkeeper

go 1.19
