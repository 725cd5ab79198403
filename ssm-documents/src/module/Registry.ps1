# Concern: registry values (a null desired value means: ensure absent).
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function Get-BpRegistryEntry($Entry) { return Get-BpRegistryValue $Entry.path $Entry.name }

function Test-BpRegistryEntry($Entry, $Actual, $Expected) {
    if ($null -eq $Expected -or $null -eq $Actual) { return ($null -eq $Expected -and $null -eq $Actual) }
    if ($Actual.type -ne $Expected.type) { return $false }
    if ($Expected.type -eq 'DWord' -or $Expected.type -eq 'QWord') { return ([long]$Actual.data -eq [long]$Expected.data) }
    return ((ConvertTo-BpJson $Actual.data) -ceq (ConvertTo-BpJson $Expected.data))
}

function Set-BpRegistryEntry($Entry, $Value) {
    if ($null -eq $Value) { Remove-BpRegistryValue $Entry.path $Entry.name } else { Set-BpRegistryValue $Entry.path $Entry.name $Value.type $Value.data }
}

$script:BpRegistryTypeNames = @{ String = 'REG_SZ'; ExpandString = 'REG_EXPAND_SZ'; MultiString = 'REG_MULTI_SZ'; DWord = 'REG_DWORD'; QWord = 'REG_QWORD'; Binary = 'REG_BINARY' }

# A registry value for people: `REG_SZ https://proxy:8080`, `REG_DWORD 1`, or `absent`.
function Format-BpRegistryValue($Value) {
    if ($null -eq $Value) { return 'absent' }
    $type = [string]$Value.type
    $name = $type
    if ($script:BpRegistryTypeNames.ContainsKey($type)) { $name = $script:BpRegistryTypeNames[$type] }
    $data = $Value.data
    if ($type -eq 'MultiString') { return $name + ' ' + (@($data) -join ' | ') }
    if ($type -eq 'Binary') {
        $length = 0
        try { $length = ([System.Convert]::FromBase64String([string]$data)).Length } catch { $length = ([string]$data).Length }
        return $name + ' (' + $length + ' bytes)'
    }
    return $name + ' ' + [string]$data
}
